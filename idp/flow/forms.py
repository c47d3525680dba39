"""Input validation for the login journey (the templates render the fields by hand)."""

from __future__ import annotations

from django import forms


class IdentifierForm(forms.Form):
    identifier = forms.CharField(
        max_length=254,
        strip=True,
        error_messages={"required": "Enter your username or email.", "max_length": "That is too long."},
    )


class PasswordForm(forms.Form):
    password = forms.CharField(
        max_length=4096,  # bounds the hashing work
        strip=False,
        error_messages={"required": "Enter your password.", "max_length": "That is too long."},
    )


class PickForm(forms.Form):
    pick = forms.CharField(max_length=64)
    organization = forms.CharField(
        max_length=64,
        error_messages={"required": "Choose an organization."},
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=20,
        strip=True,
        error_messages={"required": "Enter the code we sent you.", "max_length": "That is too long."},
    )
