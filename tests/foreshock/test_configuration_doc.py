"""docs/configuration.md lists every setting the code reads, with its environment variable and default.

Two settings of the complaint loop (``alerts.complaint_attachment_max_bytes``,
``alerts.complaint_attachments_max_total_bytes``) were read by the code but missing from the table.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from foreshock.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `([a-z_.]+)` \| `(FORESHOCK_[A-Z_]+)` \| (.*?) \|", re.M)


def _settings(model: type[BaseModel] = Settings, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for name, f in model.model_fields.items():
        ann = f.annotation
        if not prefix and isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(_settings(ann, f"{name}."))
        else:
            out[prefix + name] = f.get_default(call_default_factory=True)
    return out


def test_every_setting_is_documented_with_its_environment_variable_and_default():
    rows = {key: (env, default.strip()) for key, env, default in ROW.findall(DOC.read_text(encoding="utf-8"))}
    code = _settings()
    assert sorted(set(code) - set(rows)) == [], "settings missing from docs/configuration.md"
    assert sorted(set(rows) - set(code)) == [], "docs/configuration.md lists settings the code does not read"
    for key, default in code.items():
        env, shown = rows[key]
        assert env == "FORESHOCK_" + key.upper().replace(".", "__"), key
        if not shown.startswith("(see"):
            assert shown.strip("`") == str(default), key
