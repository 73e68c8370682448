"""The per-client limit shared through a real Redis (two limiters stand for two replicas), what
happens when Redis goes away, and whose X-Forwarded-For is believed."""

from __future__ import annotations

import logging
import time

import pytest

from rolebot.errors import RolebotError
from rolebot.ratelimit import RateLimiter, client_address, parse_proxies
from servers import Redis


@pytest.fixture
def redis(tmp_path):
    server = Redis(tmp_path)
    yield server
    server.stop()


def test_replicas_share_one_count_in_redis(redis):
    one, two = RateLimiter(5, 60, redis_url=redis.url), RateLimiter(5, 60, redis_url=redis.url)
    waits = [limiter.take("10.0.0.1") for limiter in (one, two, one, two, one, two, one)]
    assert waits[:5] == [0] * 5 and all(55 < w <= 60 for w in waits[5:])  # 5 in total, not 5 each
    assert two.take("10.0.0.2") == 0  # per client
    local = [RateLimiter(5, 60), RateLimiter(5, 60)]
    assert [limiter.take("10.0.0.1") for limiter in local * 3] == [0] * 6  # without Redis: each counts alone


def test_redis_going_away_falls_back_to_a_local_limit_and_comes_back(redis, caplog, monkeypatch):
    from rolebot import ratelimit

    monkeypatch.setattr(ratelimit, "REDIS_RETRY", 0.3)  # seconds before Redis is tried again
    limiter = RateLimiter(3, 60, redis_url=redis.url)
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    redis.stop()
    with caplog.at_level(logging.WARNING, logger="rolebot"):
        local = [limiter.take("a") for _ in range(4)]
    assert local[:3] == [0, 0, 0] and local[3] > 0  # still limited, by this replica alone
    assert sum("limiting per replica" in r.getMessage() for r in caplog.records) == 1  # once per outage
    redis.start()  # an empty Redis on the same port: counting starts again there
    time.sleep(0.4)
    with caplog.at_level(logging.WARNING, logger="rolebot"):
        assert [limiter.take("a") for _ in range(4)][:3] == [0, 0, 0]
    assert any("shared again" in r.getMessage() for r in caplog.records)
    assert RateLimiter(3, 60, redis_url=redis.url).take("a") > 0  # the count is in Redis again


def test_unreachable_or_wrong_redis_is_an_error_at_start():
    with pytest.raises(RolebotError, match="cannot reach Redis at redis://127.0.0.1:1/0"):
        RateLimiter(5, 60, redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(RolebotError, match="must be a redis:// URL"):
        RateLimiter(5, 60, redis_url="memcached://127.0.0.1:11211")
    with pytest.raises(RolebotError) as caught:
        RateLimiter(5, 60, redis_url="redis://:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in str(caught.value)


def scope(peer: str, *forwarded: str) -> dict:
    return {"client": (peer, 50000), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy():
    proxies = parse_proxies("127.0.0.1, 10.0.0.0/8")
    assert client_address(scope("203.0.113.9", "198.51.100.1")) == "203.0.113.9"  # no proxy configured
    assert client_address(scope("203.0.113.9", "198.51.100.1"), proxies) == "203.0.113.9"  # not from a proxy
    assert client_address(scope("127.0.0.1", "198.51.100.1"), proxies) == "198.51.100.1"
    # The client's own header sits left of what the proxies added: the rightmost untrusted hop wins.
    assert client_address(scope("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3"), proxies) == "198.51.100.1"
    assert client_address(scope("127.0.0.1", "6.6.6.6", "198.51.100.1"), proxies) == "198.51.100.1"  # two header lines
    assert client_address(scope("127.0.0.1", "10.0.0.5"), proxies) == "127.0.0.1"  # all hops trusted
    assert client_address(scope("127.0.0.1"), proxies) == "127.0.0.1"  # no header
    assert parse_proxies("") == () and parse_proxies(["::1"])[0].version == 6
    with pytest.raises(RolebotError, match="ROLEBOT_TRUSTED_PROXY"):
        parse_proxies("127.0.0.1, proxy.internal")


def test_the_guard_counts_the_forwarded_client_behind_a_trusted_proxy(assistant):
    from fastapi.testclient import TestClient

    from rolebot.server import create_app

    app = create_app(assistant, rate_limit="2/minute", trusted_proxies="203.0.113.1")
    balancer = TestClient(app, client=("203.0.113.1", 4000))
    for learner in ("198.51.100.1", "198.51.100.2"):
        codes = [balancer.get("/api/search?q=tools&k=1", headers={"X-Forwarded-For": learner}).status_code for _ in range(3)]
        assert codes == [200, 200, 429], learner  # each learner has its own limit behind the balancer
    direct = TestClient(app, client=("203.0.113.50", 4000))
    codes = [direct.get("/api/search?q=tools&k=1", headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code for i in range(3)]
    assert codes == [200, 200, 429]  # a forged header from anyone else changes nothing
