"""The DBOS runtime's configuration for a worker in this process."""

from __future__ import annotations

from brainsync.jobs.engine import APP_VERSION, worker_config

NAP = "notification_listener_polling_interval_sec"


def test_a_brief_process_naps_briefly_and_a_long_lived_worker_longer() -> None:
    """A command that follows its own job exits once DBOS's listener wakes: a 10 ms nap;
    a worker or watcher lives on, and a 100 ms nap keeps its idle CPU low."""
    brief = worker_config("sqlite:///jobs.sqlite", "host-a", 1.0, brief=True)
    lasting = worker_config("sqlite:///jobs.sqlite", "host-a", 1.0, brief=False)
    assert (brief[NAP], lasting[NAP]) == (0.01, 0.1)
    assert {k: v for k, v in brief.items() if k != NAP} == {
        k: v for k, v in lasting.items() if k != NAP
    }
    assert brief["executor_id"] == "host-a"
    assert brief["application_version"] == APP_VERSION  # what recovery matches on
    assert brief["system_database_url"] == "sqlite:///jobs.sqlite"


def test_a_faster_job_poll_shortens_the_nap_too() -> None:
    assert worker_config("sqlite:///j", "h", 0.005, brief=False)[NAP] == 0.005
    assert worker_config("sqlite:///j", "h", 0.005, brief=True)[NAP] == 0.005
