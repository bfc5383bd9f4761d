from tests.conftest import auth


def test_smoke(client, make_key):
    key = make_key()
    r = client.post("/v1/screen", json={"text": "Doris in room 4 has a bruise on her arm"}, headers=auth(key))
    print(r.json())
    assert r.status_code == 200
