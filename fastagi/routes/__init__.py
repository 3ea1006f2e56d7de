"""fastagi/routes"""
