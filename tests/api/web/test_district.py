"""A dispatcher's district: the console shows its work unless asked for all, and plans only it."""

from __future__ import annotations

from datetime import UTC, datetime

from typer.testing import CliRunner

from geo311.city.catalogue import Catalogue
from geo311.city.districts import load_districts
from geo311.cli.app import app
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.settings import Settings
from geo311.staff import users
from geo311.workorders import repo as work_order_repo
from tests.api.web.conftest import PASSWORD, csrf_of
from tests.api.web.test_plan_edit import AT, wait_for_plan
from tests.routing._dispatch_data import fill

BACK_BAY = "Back Bay / South End"


def test_the_console_shows_and_plans_the_dispatchers_district(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)  # seven work orders, some outside Back Bay / South End
    orders = work_order_repo.query_work_orders(web_store)
    where = load_districts(Settings().districts_file).assign(
        [o.lat for o in orders], [o.lon for o in orders]
    )
    inside = {o.work_order_id for o, name in zip(orders, where, strict=True) if name == BACK_BAY}
    outside = [o for o in orders if o.work_order_id not in inside]
    assert len(orders) == 7 and 0 < len(inside) < 7
    far = next(o for o in outside if o.address == "1 Far Away Rd")
    users.create_user(
        web_store, "dora", role="dispatcher", password=PASSWORD, display_name="Dora",
        district=BACK_BAY,
    )  # fmt: skip
    dora = browser("dora")
    page = dora.get(f"/dispatch?at={AT}")
    assert f"{len(inside)} open work orders" in page.text
    assert all(o.address not in page.text for o in outside)
    assert "Your district: <strong>Back Bay / South End</strong>" in page.text
    assert "districts=all" in page.text and 'name="districts" value="mine"' in page.text
    everything = dora.get(f"/dispatch?at={AT}&districts=all")
    assert "7 open work orders" in everything.text and "1 Far Away Rd" in everything.text
    assert "Show only Back Bay / South End" in everything.text
    assert 'name="districts" value="all"' in everything.text
    dina_client = browser("dina")
    dina = dina_client.get(f"/dispatch?at={AT}")  # no district: everything, no toggle
    assert "7 open work orders" in dina.text and 'id="district-scope"' not in dina.text

    token = csrf_of(page.text)
    mine = dora.post(
        "/dispatch/plan",
        data={"csrf_token": token, "at": AT, "time_limit_s": "1", "districts": "mine"},
        follow_redirects=False,
    )
    doc = plan_repo.get_plan(web_store, wait_for_plan(dora, mine))
    assert doc["district"] == BACK_BAY
    assert {j["work_order_id"] for j in doc["jobs"].values()} == inside
    assert BACK_BAY in dora.get(f"/dispatch/plans/{doc['plan_id']}").text
    # planning every district is refused to a dispatcher of one (it plans other districts)
    everything_plan = dora.post(
        "/dispatch/plan",
        data={"csrf_token": token, "at": AT, "time_limit_s": "1", "districts": "all"},
        follow_redirects=False,
    )
    assert everything_plan.status_code == 403
    assert "every district" in everything_plan.text and BACK_BAY in everything_plan.text
    assert plan_repo.latest_plan_id(web_store) == doc["plan_id"]
    # the console's plan form plans her district even while it shows every district
    assert 'name="districts" value="mine"' in everything.text.split('id="plan"')[1]
    whole_plan = dina_client.post(
        "/dispatch/plan",
        data={"csrf_token": csrf_of(dina.text), "at": AT, "time_limit_s": "1"},
        follow_redirects=False,
    )
    whole = plan_repo.get_plan(web_store, wait_for_plan(dina_client, whole_plan))
    assert far.work_order_id in {j["work_order_id"] for j in whole["jobs"].values()}
    assert not whole.get("district")


def test_users_add_district_is_checked_stored_and_shown(browser, store_url: str) -> None:
    runner = CliRunner()
    db = ["--database-url", store_url]
    bad = runner.invoke(
        app,
        ["users", "add", "dora", "--role", "dispatcher", "--district", "Narnia", *db],
        input=PASSWORD + "\n",
    )
    assert bad.exit_code != 0
    assert "--district" in bad.output and "Back Bay / South End" in bad.output
    good = runner.invoke(
        app,
        ["users", "add", "dora", "--role", "dispatcher", "--district", BACK_BAY, *db],
        input=PASSWORD + "\n",
    )
    assert good.exit_code == 0, good.output
    assert f"district {BACK_BAY}" in good.output
    listed = runner.invoke(app, ["users", "list", *db])
    assert f"[{BACK_BAY}]" in listed.output
    with Store(store_url) as s:
        assert users.find_user(s, "dora").district == BACK_BAY
        assert users.find_user(s, "dina").district is None
    admin = browser("ada").get("/admin/users")
    assert f"<td>{BACK_BAY}</td>" in admin.text and "<td>all districts</td>" in admin.text


def test_a_dispatcher_of_another_district_changes_nothing_of_this_one(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    from geo311.plans.document import PlanDocument
    from geo311.staff import store as auth_store
    from tests.api.web.test_crew import _plan

    draft, _, _ = _plan(web_store, catalogue, publish=False)
    doc = {
        **PlanDocument.from_dict(plan_repo.get_plan(web_store, draft)).payload(),
        "district": BACK_BAY,
    }
    plan_repo.update_plan(web_store, draft, doc)
    published = plan_repo.save_plan(web_store, doc, plan_date="2015-10-06")
    auth_store.insert_publication(
        web_store, plan_id=published, plan_date="2015-10-06", published_at=datetime.now(UTC),
        published_by="dina",
    )  # fmt: skip
    users.create_user(
        web_store, "odile", role="dispatcher", password=PASSWORD, district="Elsewhere"
    )
    odile = browser("odile")
    token = csrf_of(odile.get("/planner").text)
    attempts = {
        "/dispatch/crews/pothole-1": {"day": "2015-10-06", "on_duty": "", "shift_start": "07:00",
                                      "shift_end": "15:00"},
        f"/dispatch/plans/{draft}/publish": {},
        f"/dispatch/plans/{draft}/edit": {"action": "drop", "job_id": "wo-p"},
        f"/dispatch/plans/{draft}/edit/save": {"action": "drop", "job_id": "wo-p"},
        f"/dispatch/plans/{published}/replan": {"mode": "now", "at": AT},
    }  # fmt: skip
    for url, form in attempts.items():
        resp = odile.post(url, data={"csrf_token": token, **form}, follow_redirects=False)
        assert resp.status_code == 403, (url, resp.text)
        assert "&#39;Elsewhere&#39;" in resp.text, url  # names the dispatcher's district
        what = "pothole-1" if "crews" in url else f"district &#39;{BACK_BAY}&#39;"
        assert what in resp.text, url
    action = {"key": "k-odile-0001", "plan_id": published, "crew_id": "A", "job_id": "wo-p",
              "action": "cant", "reason": "no_access"}  # fmt: skip
    resp = odile.post("/crew/actions", json=action, headers={"X-CSRF-Token": token})
    assert resp.status_code == 403
    assert auth_store.crew_day_rows(web_store, "2015-10-06") == {}
    assert auth_store.publication(web_store, draft) is None
    assert "cant_do" not in plan_repo.get_plan(web_store, published)
    assert (
        plan_repo.latest_plan_id(web_store) == published
    )  # no edited or re-planned plan was stored
    assert [r for r in auth_store.audit_rows(web_store) if r["action"] != "login"] == []
