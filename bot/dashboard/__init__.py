"""The web dashboard for teams and communes (issue 21): server-rendered pages under /quan-ly/.

Sign-in is by a one-time link sent in the chat (``handlers/dashboard_link.py``); ``auth.py``
turns it into a session (database, cookie) and checks every request's session, role, scope and
CSRF token; ``views.py`` holds the pages, built from ``bot.reports`` and the repositories.
"""
