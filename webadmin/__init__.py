"""webadmin"""
