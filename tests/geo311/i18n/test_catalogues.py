"""The Spanish catalogue covers every message of the pages citizens, crews and staff read.

The messages are extracted from the templates and the code at test time (what ``make
messages`` does), so a string added to a citizen page, an e-mail, the crew's page or the
itinerary without its Spanish translation fails here, naming it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from geo311.i18n import available_languages, translations
from geo311.i18n.catalogues import catalogue_path
from geo311.plans.stop_states import LABELS

ROOT = Path(__file__).resolve().parents[3]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
# What citizens and crews read.
READ_BY_CITIZENS_AND_CREWS = [
    *sorted(p for p in (ROOT / "api/templates/public").glob("*.html") if p.name != "_figures.html"),
    *sorted((ROOT / "data/templates/notify").glob("*.html")),
    *sorted((ROOT / "data/templates/notify").glob("*.txt")),
    *(ROOT / "api/templates" / n for n in ("base.html", "login.html", "error.html")),
    *(ROOT / "api/templates" / n for n in ("crew.html", "_crew_form.html")),
    ROOT / "api/public/service.py",
    ROOT / "api/public/notify.py",
    ROOT / "api/public/performance_view.py",
    ROOT / "geo311/requests/performance.py",
    ROOT / "maps/itinerary.py",
    ROOT / "geo311/plans/stop_states.py",
    ROOT / "api/web/crew_actions.py",
]
# What the staff read, in the city's own language (dispatchers, planners, admins).
STAFF_TEMPLATES = (
    *("dispatch", "plan", "plan_progress", "_replan"),
    *("workorder", "plan_edit", "_stop_edit", "horizon"),
    *("admin_users", "admin_user", "admin_audit", "account_password"),
    *("planner", "whatif", "_whatif_result"),
)
READ_BY_STAFF = [
    *(ROOT / "api/templates" / f"{n}.html" for n in STAFF_TEMPLATES),
    *(ROOT / "api/web" / f"{n}.py" for n in ("dispatch", "workorder", "horizon")),
    ROOT / "geo311/staff/users.py",
    *(
        ROOT / "api/web" / f"{n}.py"
        for n in ("planner_view", "planner_whatif", "planner_calibrated")
    ),
]
EVERY_SOURCE = [*READ_BY_CITIZENS_AND_CREWS, *READ_BY_STAFF]


def _extracted(path: Path) -> list[str | tuple[str, ...]]:
    method = "python" if path.suffix == ".py" else "jinja2.ext:babel_extract"
    found = extract_from_file(method, str(path), keywords=KEYWORDS, comment_tags=())
    return [msg for _line, msg, _comments, _context in found]


def _spanish() -> dict[str, object]:
    with catalogue_path("es").open("rb") as po:
        return {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in read_po(po) if m.id}


def test_english_and_spanish_are_shipped() -> None:
    assert available_languages()[:2] == ("en", "es")


@pytest.mark.parametrize("path", EVERY_SOURCE, ids=lambda p: p.name)
def test_every_message_has_a_spanish_translation(path: Path) -> None:
    spanish = _spanish()
    messages = _extracted(path)
    assert messages, f"{path} has no translatable message"
    missing = []
    for msg in messages:
        key = msg if isinstance(msg, str) else msg[0]
        text = spanish.get(key)
        forms = text if isinstance(text, tuple | list) else [text]
        if not text or not all(forms):
            missing.append(key)
    assert not missing, f"{path.name}: no Spanish for {missing}; run `make messages`, translate"


def test_the_template_matches_the_code() -> None:
    """``messages.pot`` lists what the code says (run ``make messages`` when this fails)."""
    with (catalogue_path("es").parents[2] / "messages.pot").open("rb") as pot:
        listed = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot) if m.id}
    extracted = {m if isinstance(m, str) else m[0] for p in EVERY_SOURCE for m in _extracted(p)}
    assert not extracted - listed, f"not in messages.pot: {sorted(extracted - listed)}"


def test_the_catalogue_compiles_in_memory_and_translates() -> None:
    es = translations("es")
    assert es.gettext("Send report") == "Enviar aviso"
    assert es.ngettext("%(n)d stop", "%(n)d stops", 1) == "%(n)d parada"
    assert es.ngettext("%(n)d stop", "%(n)d stops", 3) == "%(n)d paradas"
    assert translations("en").gettext("Send report") == "Send report"
    assert translations("xx").gettext("Send report") == "Send report"  # no catalogue


def test_no_fuzzy_or_python_format_mismatch_in_the_spanish_catalogue() -> None:
    with catalogue_path("es").open("rb") as po:
        catalogue = read_po(io.BytesIO(po.read()))
    assert not [m.id for m in catalogue if m.id and m.fuzzy]
    errors = [(m.id, e) for m in catalogue for e in m.check(catalogue)]
    assert errors == []


def test_the_stop_states_are_shown_in_the_readers_language() -> None:
    es = translations("es")
    assert {s: es.gettext(text) for s, text in LABELS.items()} == {
        "planned": "pendiente",
        "arrived": "en el lugar",
        "done": "hecho",
        "cant_do": "no se puede hacer",
    }
    assert translations("en").gettext(LABELS["cant_do"]) == "can't do"
