"""Admin pages: add and disable users from the page; everything lands in the audit log."""

from __future__ import annotations

from geo311.db.store import Store
from geo311.staff import store as auth_store
from geo311.staff import users
from tests.api.web.conftest import PASSWORD, csrf_of, login


def test_admin_adds_and_disables_users_with_audit(browser, web_store: Store) -> None:
    admin = browser("ada")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "crewa" in page.text and "crew:A" in page.text
    token = csrf_of(page.text)

    bad = admin.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "nico",
            "display_name": "Nico N",
            "role": "crew",
            "crew_id": "pothole-1",
            "password": "short",
        },
    )
    assert bad.status_code == 400
    assert "password: too short" in bad.text
    assert 'value="nico"' in bad.text and 'value="Nico N"' in bad.text
    assert 'value="pothole-1"' in bad.text

    good = admin.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "nico",
            "display_name": "Nico N",
            "role": "crew",
            "crew_id": "pothole-1",
            "password": PASSWORD,
        },
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert users.find_user(web_store, "nico").role_label == "crew:pothole-1"
    assert "Added user nico" in admin.get(good.headers["location"]).text

    nico = browser("nico")
    assert nico.get("/admin/users", follow_redirects=False).status_code == 403
    response = admin.post("/admin/users/nico/disable", data={"csrf_token": token})
    assert response.status_code == 200  # followed back to the list
    # the disabled user's open session ends at once, and it cannot sign in again
    assert nico.get("/admin/users", follow_redirects=False).status_code == 302
    assert login(browser(), "nico").status_code == 401

    rows = auth_store.audit_rows(web_store)
    disable = next(r for r in rows if r["action"] == "user.disable")
    assert disable["actor"] == "ada" and disable["object"] == "user:nico"
    assert disable["before"]["active"] is True and disable["after"]["active"] is False
    add = next(r for r in rows if r["action"] == "user.add")
    assert add["after"] == {
        "username": "nico",
        "display_name": "Nico N",
        "role": "crew:pothole-1",
        "active": True,
    }
    assert "password" not in str(rows)
    audit = admin.get("/admin/audit")
    assert audit.status_code == 200 and "user.disable" in audit.text and "user:nico" in audit.text


def test_admin_cannot_disable_itself(browser, web_store: Store) -> None:
    admin = browser("ada")
    token = csrf_of(admin.get("/admin/users").text)
    response = admin.post("/admin/users/ada/disable", data={"csrf_token": token})
    assert response.status_code == 409 and "your own account" in response.text
    assert users.find_user(web_store, "ada").active
