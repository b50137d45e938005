"""Recorded OAuth flows of the lab: the recorder (``recorder``), the official SDK clients' flows (``sdk``) and
delegation between agents (``delegation``)."""
