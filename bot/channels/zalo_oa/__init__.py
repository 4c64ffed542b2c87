"""Zalo Official Accounts (OA Open API v3): one Zalo App that many OAs authorise (issue 14).

- ``api``: the small aiohttp client (``message/cs``, ``upload/image``, ``getoa``, the OAuth v4
  token endpoint), the webhook signature and PKCE.
- ``render``: a turn's replies as OA messages (text below 2,000 characters, the button
  template, numbered lines when it is refused, images).
- ``channel``: the channel itself (webhook, OAuth callback, sending, the 7-day window).

Tokens, OAs and uploads live in the database behind ``channel.Accounts``, implemented in
``bot/zalo_oa.py`` (the channel never sees a repository).
"""
