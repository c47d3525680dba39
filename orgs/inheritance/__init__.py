"""inheritance"""
