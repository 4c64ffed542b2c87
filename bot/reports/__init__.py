"""Team reports, without a conversation: built from the database and content, then shown as
chat text, a CSV or a chart. Used by the team tools (handlers/team_tools.py) and the CLI
(``trolyso report``)."""
