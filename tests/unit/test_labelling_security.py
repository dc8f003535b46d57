"""Labelling service: who may do what, CSRF, headers, and refusal of bad input."""

import numpy as np

from labelling_fixtures import (  # noqa: F401  (fixtures)
    H, W, app, client, csrf_of, dense, label_map, login, png, store, token_for, weak,
)


def test_every_api_endpoint_needs_a_session_or_token(client, weak):
    assert client.get(f"/api/campaigns/{weak}/next").status_code == 401


def test_pages_send_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_is_refused(client):
    assert login(client, "ann", "not the password").status_code == 401


def test_passwords_are_stored_hashed(app):
    from sqlalchemy import select
    from segmad.labelling.tables import annotators
    with app.extensions["segmad.engine"].connect() as conn:
        stored = conn.execute(select(annotators.c.password_hash).where(annotators.c.name == "ann")).scalar()
    assert "correct horse" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_login_form_without_csrf_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"name": "ann", "password": "correct horse"})
    assert response.status_code == 400 and b"CSRF" in response.data


def test_session_json_post_without_csrf_header_is_refused(client, weak):
    login(client, "ann")
    response = client.put(f"/api/campaigns/{weak}/items/1/rating", json={"rating": 3, "seconds": 1})
    assert response.status_code == 400 and "CSRF" in response.get_json()["error"]


def test_session_json_post_with_csrf_header_is_accepted(client, weak):
    login(client, "ann")
    response = client.put(f"/api/campaigns/{weak}/items/1/rating", json={"rating": 3, "seconds": 1},
                          headers=csrf_of(client))
    assert response.status_code == 200


def test_bearer_token_works_without_csrf(app, client, weak):
    response = client.put(f"/api/campaigns/{weak}/items/1/rating", json={"rating": 3, "seconds": 1},
                          headers=token_for(app, "ann"))
    assert response.status_code == 200


def test_unknown_bearer_token_is_refused(client, weak):
    response = client.get(f"/api/campaigns/{weak}/next", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_logout_ends_the_session(client):
    login(client, "ann")
    client.post("/logout", data={"csrf_token": csrf_of(client)["X-CSRF-Token"]})
    assert client.get("/api/campaigns").status_code == 401


def test_annotators_cannot_reach_admin_endpoints(app, client, weak):
    headers = token_for(app, "ann")
    assert client.get(f"/api/admin/campaigns/{weak}/stats", headers=headers).status_code == 403
    assert client.post(f"/api/admin/campaigns/{weak}/close", headers=headers).status_code == 403


def test_annotators_outside_a_campaign_cannot_see_it(app, client, weak):
    headers = token_for(app, "eve")
    assert client.get(f"/api/campaigns/{weak}/next", headers=headers).status_code == 403
    assert client.get(f"/api/campaigns/{weak}/items/1/image", headers=headers).status_code == 403


def test_annotators_cannot_save_a_mask_on_an_item_of_another(app, client, dense):
    # Item 2 (i1) is bob's.
    response = client.put(f"/api/campaigns/{dense}/items/2/mask?seconds=3",
                          data=label_map(1).tobytes(), content_type="application/octet-stream",
                          headers=token_for(app, "ann"))
    assert response.status_code == 403


def test_pages_carry_a_csp_without_inline_script(client):
    csp = client.get("/login").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_pages_have_no_inline_script(client, weak):
    login(client, "ann")
    page = client.get(f"/campaigns/{weak}/rate").data.decode()
    assert "<script>" not in page and "onclick" not in page


def test_user_text_is_escaped(app, client, dense):
    ann, bob = token_for(app, "ann"), token_for(app, "bob")
    client.put(f"/api/campaigns/{dense}/items/1/mask?seconds=3", data=label_map(1).tobytes(),
               content_type="application/octet-stream", headers=ann)
    client.post(f"/api/campaigns/{dense}/masks/1/review",
                json={"decision": "return", "comment": "<script>alert(1)</script>"}, headers=bob)
    login(client, "ann")
    page = client.get(f"/campaigns/{dense}/dense").data.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


def test_uploads_over_the_size_limit_are_refused(app, client, dense):
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = client.put(f"/api/campaigns/{dense}/items/1/mask?seconds=3", data=b"x" * 101,
                          content_type="application/octet-stream", headers=token_for(app, "ann"))
    assert response.status_code == 413 and "too large" in response.get_json()["error"]


def test_a_mask_of_the_wrong_size_is_refused_with_the_sizes(app, client, dense):
    response = client.put(f"/api/campaigns/{dense}/items/1/mask?seconds=3",
                          data=png(np.zeros((H + 1, W), np.uint8)), content_type="image/png",
                          headers=token_for(app, "ann"))
    assert response.status_code == 400
    assert response.get_json()["error"] == f"the mask is {W}x{H + 1} pixels, the image is {W}x{H}"


def test_a_mask_with_unknown_class_ids_is_refused(app, client, dense):
    response = client.put(f"/api/campaigns/{dense}/items/1/mask?seconds=3",
                          data=png(np.full((H, W), 7, np.uint8)), content_type="image/png",
                          headers=token_for(app, "ann"))
    assert response.status_code == 400 and "unknown class ids [7]" in response.get_json()["error"]


def test_ratings_outside_the_scale_are_refused(app, client, weak):
    headers = token_for(app, "ann")
    for bad in (0, 6, 2.5, "5", None, True):
        response = client.put(f"/api/campaigns/{weak}/items/1/rating", json={"rating": bad, "seconds": 1},
                              headers=headers)
        assert response.status_code == 400, bad


def test_blob_keys_with_path_tricks_are_refused_when_opening_a_campaign(app, client):
    items = [{"image_id": "x", "image_key": "../etc/passwd", "prediction_key": "pred/target/i0.png"}]
    body = {"round": 1, "items": items, "annotators": ["ann"], "n4": 1, "num_classes": 3,
            "class_names": ["cat", "dog", "car"]}
    response = client.post("/api/admin/campaigns/weak", json=body, headers=token_for(app, "admin"))
    assert response.status_code == 400 and "invalid blob key" in response.get_json()["error"]


def test_image_ids_that_are_not_plain_names_are_refused(app, client):
    items = [{"image_id": "../x", "image_key": "images/i0.png", "prediction_key": "pred/target/i0.png"}]
    body = {"round": 1, "items": items, "annotators": ["ann"], "n4": 1, "num_classes": 3,
            "class_names": ["cat", "dog", "car"]}
    response = client.post("/api/admin/campaigns/weak", json=body, headers=token_for(app, "admin"))
    assert response.status_code == 400 and "invalid image id" in response.get_json()["error"]
