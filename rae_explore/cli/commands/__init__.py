"""Sub-commands of the ``rae-explore`` CLI, one module each (see :mod:`rae_explore.cli`)."""

import json


def json_object_option(text, flag, example):
    """Parse a JSON-object command-line option; ValueError naming the flag and an example otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{flag} is not valid JSON ({e}); example: {example}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object, got {text!r}; example: {example}")
    return value
