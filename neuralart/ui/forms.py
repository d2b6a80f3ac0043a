"""A tab's settings by name: {name: widget}, passed to events as `inputs_kwargs`, so handlers receive named
values; and the two conversions between those values and a technique's config (for a run, and for restoring a
recipe or applying a preset).

Names are config field names, with two spellings for what a widget shows differently: a log-scale slider is named
`log10_<field>`, and 0 on the slider of an optional number whose range excludes 0 stands for None ("no limit",
"the mode's own").
"""

from __future__ import annotations

from collections.abc import Mapping

from ..models import weights_from_text
from ..settings import settings_of
from .widgets import LOG_PREFIX, from_log, to_log


def config_values(config_class, values: Mapping) -> dict:
    """Config field values from named widget values (names the config does not know are left out)."""
    described = settings_of(config_class)
    fields = {}
    for name, value in values.items():
        if name.startswith(LOG_PREFIX) and name[len(LOG_PREFIX):] in described:
            fields[name[len(LOG_PREFIX):]] = from_log(value)
        elif name == "weights":
            fields[name] = weights_from_text(value)
        elif name in described:
            setting = described[name]
            zero_is_none = setting.optional and setting.low is not None and setting.low > 0
            fields[name] = None if zero_is_none and value == 0 else value
    return fields


def widget_values(config, names) -> dict:
    """The value each named widget shows for `config` (the inverse of `config_values`); a None a widget cannot
    show, or a value outside its choices, is left out."""
    described = settings_of(type(config))
    shown = {}
    for name in names:
        field = name[len(LOG_PREFIX):] if name.startswith(LOG_PREFIX) else name
        if field not in described:
            continue
        value = getattr(config, field)
        if name.startswith(LOG_PREFIX):
            if value is not None:
                shown[name] = to_log(value)
        elif name == "weights":
            shown[name] = "random" if value is None else value
        elif value is None:
            if described[field].optional and described[field].low is not None and described[field].low > 0:
                shown[name] = 0
        elif not described[field].choices or value in described[field].choices:
            shown[name] = list(value) if isinstance(value, tuple) else value
    return shown

