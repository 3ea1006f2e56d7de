"""callcards"""
