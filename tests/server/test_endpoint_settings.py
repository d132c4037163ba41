"""Where the Dataproc backend sends requests: its setting, then Google's environment
variable, then gcloud's endpoint override; a bare host means https."""

from __future__ import annotations

from pathlib import Path

from jupyter_sessions.client.gcp_auth import GoogleAuth
from jupyter_sessions.server.dataproc import DataprocBackend


def backend(env: dict[str, str], endpoint: str = "") -> DataprocBackend:
    return DataprocBackend(
        "p", "us-east1", environ=env, endpoint=endpoint, auth=GoogleAuth(credentials=object())
    )


def gcloud_config(root: Path, name: str, override: str) -> Path:
    (root / "configurations").mkdir(parents=True)
    (root / "active_config").write_text(name)
    (root / "configurations" / f"config_{name}").write_text(
        f"[core]\nproject = p\n\n[api_endpoint_overrides]\ndataproc = {override}\n"
    )
    return root


def test_a_bare_host_in_the_setting_means_https() -> None:
    b = backend({}, endpoint="dataproc.example.internal")
    assert b.api_root == "https://dataproc.example.internal/"
    assert b.describe()["endpointSource"] == "SessionsExtensionApp.dataproc_endpoint"


def test_google_environment_variable_is_a_bare_host() -> None:
    b = backend({"GOOGLE_CLOUD_DATAPROC_API_ENDPOINT": "private.dataproc.example:8443"})
    assert b.api_root == "https://private.dataproc.example:8443/"
    assert b.describe()["endpointSource"] == "GOOGLE_CLOUD_DATAPROC_API_ENDPOINT"


def test_gcloud_override_from_the_active_configuration(tmp_path: Path) -> None:
    root = gcloud_config(tmp_path / "gcloud", "work", "https://psc-dataproc.example/")
    b = backend({"CLOUDSDK_CONFIG": str(root)})
    assert b.api_root == "https://psc-dataproc.example/"
    assert b.describe()["endpointSource"] == "gcloud api_endpoint_overrides/dataproc"


def test_gcloud_override_from_its_environment_variable(tmp_path: Path) -> None:
    root = gcloud_config(tmp_path / "gcloud", "work", "https://from-file.example/")
    env = {
        "CLOUDSDK_CONFIG": str(root),
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_DATAPROC": "https://from-env.example/",
    }
    assert backend(env).api_root == "https://from-env.example/"


def test_first_match_wins_and_default_is_regional(tmp_path: Path) -> None:
    root = gcloud_config(tmp_path / "gcloud", "default", "https://gcloud.example/")
    env = {"CLOUDSDK_CONFIG": str(root), "GOOGLE_CLOUD_DATAPROC_API_ENDPOINT": "env.example"}
    assert backend(env, endpoint="setting.example").api_root == "https://setting.example/"
    assert backend(env).api_root == "https://env.example/"
    empty = {"CLOUDSDK_CONFIG": str(tmp_path / "none")}
    assert backend(empty).api_root == "https://us-east1-dataproc.googleapis.com/"


def test_plain_http_to_a_remote_host_is_still_refused() -> None:
    b = backend({"GOOGLE_CLOUD_DATAPROC_API_ENDPOINT": "http://dataproc.example/"})
    assert "unencrypted" in b.config_error
