"""The ``personalize`` template tag library (``{% load personalize %}``)."""
