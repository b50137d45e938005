"""labkit probe: the tokens x endpoints matrix of the lab (``matrix``) and ``labkit probe URL`` for any A2A/MCP agent
(``url``: discovery and calls, ``tokens``: the token kinds, ``fetch``: the one bounded client)."""
