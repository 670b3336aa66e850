"""Admin pages: add and disable users from the page; everything lands in the audit log."""

from __future__ import annotations

from geo311.db.store import Store
from geo311.staff import store as auth_store
from geo311.staff import users
from tests.api.web.conftest import PASSWORD, csrf_of, login


def test_admin_adds_and_disables_users_with_audit(browser, web_store: Store) -> None:
    admin = browser("ada")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "crewa" in page.text
    assert "crew: A <strong>(not a crew of the city)</strong>" in page.text
    assert '<option value="pothole-1" >' in page.text  # the add form lists the city's crews
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


def test_a_crew_user_is_made_only_for_one_of_the_citys_crews(browser, web_store: Store) -> None:
    admin = browser("ada")
    token = csrf_of(admin.get("/admin/users").text)
    typo = {
        "csrf_token": token,
        "username": "nico",
        "role": "crew",
        "crew_id": "pothole1",
        "password": PASSWORD,
    }
    refused = admin.post("/admin/users", data=typo)
    assert refused.status_code == 400
    assert "crew_id: pick one of the city&#39;s crews (pothole-1, pothole-2" in refused.text
    assert users.list_users(web_store) and all(
        u.username != "nico" for u in users.list_users(web_store)
    )


def test_admin_edits_a_user_and_resets_a_password_with_audit(browser, web_store: Store) -> None:
    admin = browser("ada")
    page = admin.get("/admin/users/crewa")
    assert page.status_code == 200 and "Role, crew, district and name" in page.text
    token = csrf_of(page.text)
    bad = admin.post(
        "/admin/users/crewa",
        data={"csrf_token": token, "role": "crew", "crew_id": "nope", "display_name": "Crew Ann"},
    )
    assert bad.status_code == 400 and 'value="Crew Ann"' in bad.text  # typed name kept
    saved = admin.post(
        "/admin/users/crewa",
        data={
            "csrf_token": token,
            "role": "crew",
            "crew_id": "pothole-2",
            "display_name": "Crew Ann",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    user = users.find_user(web_store, "crewa")
    assert (user.role_label, user.display_name) == ("crew:pothole-2", "Crew Ann")
    [edit] = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="user.edit"))
    assert edit["before"]["role"] == "crew:A" and edit["after"]["role"] == "crew:pothole-2"
    # an admin cannot demote itself (the last way back in)
    self_edit = admin.post("/admin/users/ada", data={"csrf_token": token, "role": "planner"})
    assert self_edit.status_code == 409 and users.find_user(web_store, "ada").role == "admin"

    crew = browser("crewa")  # signed in with the old password
    short = admin.post("/admin/users/crewa/password", data={"csrf_token": token, "password": "x"})
    assert short.status_code == 400 and "password: too short" in short.text
    new = "another long password"
    reset = admin.post(
        "/admin/users/crewa/password",
        data={"csrf_token": token, "password": new},
        follow_redirects=False,
    )
    assert reset.status_code == 303
    assert crew.get("/crew", follow_redirects=False).status_code == 302  # its session ended
    assert login(browser(), "crewa").status_code == 401
    assert login(browser(), "crewa", new).status_code in (200, 303)
    [row] = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="user.password_reset"))
    assert row["object"] == "user:crewa" and new not in str(row)


def test_a_user_changes_its_own_password(browser, web_store: Store) -> None:
    pete = browser("pete")
    token = csrf_of(pete.get("/account/password").text)
    new = "a brand new password"
    wrong = pete.post(
        "/account/password",
        data={"csrf_token": token, "current": "nope", "password": new, "again": new},
    )
    assert wrong.status_code == 400 and "not your password" in wrong.text
    differ = pete.post(
        "/account/password",
        data={"csrf_token": token, "current": PASSWORD, "password": new, "again": new + "x"},
    )
    assert differ.status_code == 400 and "differ" in differ.text
    done = pete.post(
        "/account/password",
        data={"csrf_token": token, "current": PASSWORD, "password": new, "again": new},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/login")
    assert login(browser(), "pete").status_code == 401
    assert login(browser(), "pete", new).status_code in (200, 303)
    [row] = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="user.password_change"))
    assert row["actor"] == "pete" and new not in str(row)


def test_the_audit_log_filters_and_reads_as_changes(browser, web_store: Store) -> None:
    admin = browser("ada")
    token = csrf_of(admin.get("/admin/users").text)
    admin.post("/admin/users/pete/disable", data={"csrf_token": token})
    admin.post("/admin/users/pete/enable", data={"csrf_token": token})
    page = admin.get("/admin/audit", params={"actor": "ada", "action": "user.", "object": "user:p"})
    assert page.status_code == 200
    assert page.text.count('<td class="nowrap">user.') == 2
    assert (
        '<strong>active</strong>: <span class="before">true</span> → <span class="after">false</span>'
        in page.text
    )
    none = admin.get("/admin/audit", params={"actor": "ada", "action": "stop."})
    assert "Nothing matches these filters." in none.text
    bad = admin.get("/admin/audit", params={"from": "yesterday"})
    assert bad.status_code == 400 and "from: give a date as YYYY-MM-DD" in bad.text
    today = admin.get("/admin/audit", params={"from": "2000-01-01", "to": "2999-12-31"})
    assert today.text.count('<td class="nowrap">user.') == 2
