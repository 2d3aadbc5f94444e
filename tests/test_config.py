from pathlib import Path

import pytest

from flows.config import ConfigError, MinHashConfig, Settings, load_settings


def test_layers_apply_in_order_defaults_file_env_cli(tmp_path: Path):
    project = tmp_path / "pyproject.toml"
    project.write_text('[tool.docdedup]\nthreshold = 0.6\nchunk_files = 7\nbands = 10\n')
    env = {"DOCDEDUP_THRESHOLD": "0.7", "DOCDEDUP_RAW": "/drop", "OTHER": "x"}
    s = load_settings({"threshold": 0.8, "warehouse": None}, env=env, project_file=project)
    assert s.threshold == 0.8  # CLI beats env beats file
    assert s.raw == Path("/drop")  # env
    assert s.chunk_files == 7  # file
    assert s.minhash.bands == 10  # flat key reaches the MinHash settings
    assert s.warehouse == Settings().warehouse  # None on the CLI means "not given"


def test_unknown_key_and_bad_value_are_clear_errors(tmp_path: Path):
    project = tmp_path / "pyproject.toml"
    project.write_text("[tool.docdedup]\nthreshhold = 0.6\n")
    with pytest.raises(ConfigError, match="unknown setting 'threshhold'"):
        load_settings(env={}, project_file=project)
    with pytest.raises(ConfigError, match="threshold must be float"):
        load_settings(env={"DOCDEDUP_THRESHOLD": "high"}, project_file=None)
    with pytest.raises(ConfigError, match=r"threshold must be in \(0, 1\]"):
        load_settings({"threshold": 1.5}, env={}, project_file=None)


def test_default_banding_finds_pairs_at_the_threshold_with_probability_095():
    s = Settings()
    assert s.minhash.candidate_probability(s.threshold) >= 0.95
    assert s.minhash.candidate_probability(0.05) < 0.01


def test_fingerprint_names_every_signature_parameter():
    a = MinHashConfig().fingerprint()
    assert a != MinHashConfig(seed=2).fingerprint()
    assert a != MinHashConfig(shingle_size=3).fingerprint()
    assert a != MinHashConfig(bands=10).fingerprint()


def test_task_runner_is_checked_and_a_dask_address_selects_dask():
    assert load_settings(env={"DOCDEDUP_TASK_RUNNER": "processes"}, project_file=None).task_runner == "processes"
    s = load_settings(env={"DOCDEDUP_DASK_ADDRESS": "tcp://10.0.0.5:8786"}, project_file=None)
    assert (s.task_runner, s.dask_address) == ("dask", "tcp://10.0.0.5:8786")
    with pytest.raises(ConfigError, match="task_runner must be one of auto, threads, processes, dask"):
        load_settings({"task_runner": "spark"}, env={}, project_file=None)
    with pytest.raises(ConfigError, match="dask_address needs task_runner dask"):
        load_settings({"task_runner": "threads", "dask_address": "tcp://h:8786"}, env={}, project_file=None)
    with pytest.raises(ConfigError, match="workers must be 0"):
        load_settings({"workers": -1}, env={}, project_file=None)


def test_the_default_runner_is_a_process_per_core_for_runs_of_more_than_one_chunk(monkeypatch):
    from flows.runners import runner_kind, worker_count

    s = load_settings(env={}, project_file=None)
    assert s.task_runner == "auto"
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert [runner_kind(s, n) for n in (0, s.chunk_files, s.chunk_files + 1)] == ["threads", "threads", "processes"]
    assert (worker_count(s, "threads"), worker_count(s, "processes")) == (1, 2)
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert runner_kind(s, 10 * s.chunk_files) == "threads"
    chosen = load_settings({"task_runner": "threads"}, env={}, project_file=None)
    assert runner_kind(chosen, 10 * s.chunk_files) == "threads"
