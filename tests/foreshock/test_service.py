"""``foreshock run`` start-up failures: a clear message, nothing left running."""

from __future__ import annotations

import socket

from foreshock.cli import main


def test_run_with_the_api_port_taken_says_so_and_never_subscribes(tmp_path, monkeypatch, capsys):
    import foreshock.service as service_mod

    started = []
    orig_init = service_mod.Pipeline.__init__

    def init(self, *a, **kw):
        orig_init(self, *a, **kw)
        monkeypatch.setattr(self.ingest, "start", lambda: started.append(True))

    monkeypatch.setattr(service_mod.Pipeline, "__init__", init)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("FORESHOCK_API__PORT", str(port))
        monkeypatch.setenv("FORESHOCK_LOG_LEVEL", "WARNING")
        code = main(["run"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"foreshock: error: the API cannot listen on 127.0.0.1:{port}" in err
    assert "FORESHOCK_API__PORT" in err
    assert "Traceback" not in err
    assert started == []  # ingest was never started, so no broker session was taken over


def test_run_says_it_is_not_connected_when_the_broker_has_not_answered(tmp_path, monkeypatch, capsys):
    """'foreshock: ingesting from mqtt://...' was printed whether or not the broker had answered
    (with nothing listening at mqtt.url it said so, and the log said why only once)."""
    import foreshock.service as service_mod

    orig_init = service_mod.Pipeline.__init__

    def init(self, *a, **kw):
        orig_init(self, *a, **kw)
        monkeypatch.setattr(self.ingest, "start", lambda: None)  # as if the broker never answered

    monkeypatch.setattr(service_mod.Pipeline, "__init__", init)
    monkeypatch.setattr(service_mod.Pipeline, "run_until_stopped", lambda self: self.stop())
    monkeypatch.setenv("FORESHOCK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FORESHOCK_MQTT__URL", "mqtt://127.0.0.1:1")
    monkeypatch.setenv("FORESHOCK_LOG_LEVEL", "WARNING")
    assert main(["run", "--no-api"]) == 0
    out = capsys.readouterr().out
    assert "foreshock: not connected to the broker at mqtt://127.0.0.1:1 yet; retrying (see the log)" in out
    assert "ingesting from" not in out


def test_the_service_tick_deletes_expired_dead_letters(tmp_path):
    """foreshock run deletes dead letters older than ingest.dead_letter_retention_d at its first tick
    (then hourly); they were kept for ever."""
    import time

    from foreshock.service import Pipeline, PipelineOptions
    from foreshock.settings import load_settings

    settings = load_settings(data_dir=tmp_path, ingest={"dead_letter_retention_d": 7})
    pipe = Pipeline(settings, PipelineOptions(api=False))
    try:
        old, recent = time.time() - 8 * 86_400, time.time() - 6 * 86_400
        for t, detail in ((old, "old"), (recent, "recent")):
            pipe.dead_letters.add(reason="schema", topic="foreshock/v1/P-1/telemetry", payload=b"{}", received_at=t,
                                  device_id="P-1", detail=detail)
        pipe.tick()
        rows, total = pipe.dead_letters.list()
        assert total == 1 and rows[0].detail == "recent"
    finally:
        pipe.stop(timeout_s=5)
