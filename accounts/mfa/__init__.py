"""Multi-factor sign-in, built on django-allauth's MFA (TOTP, WebAuthn passkeys, recovery codes).

Our LoginView checks the password (django-axes, accounts.signin_limits) and hands the user to allauth's
login stages, which ask for the second factor when the user has one. ``policy`` says who must have one,
``middleware`` holds them to it, ``forms`` puts the second step under the password's limits, and
``services`` records enrolment, failures and resets in the audit log.
"""
