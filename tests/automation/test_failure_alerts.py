"""Failure alerts and success digests, received by a real SMTP server, with no secret inside."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    asset,
    build_run_status_sensor_context,
    materialize,
)

from datawiz_pipelines.definitions import build_definitions
from datawiz_pipelines.notifications.redaction import MASK, Redactor
from datawiz_pipelines.sensors.run_failure import RUN_FAILURE_SENSOR, alert_run_failure
from datawiz_pipelines.sensors.success_digest import SUCCESS_DIGEST_SENSOR
from datawiz_pipelines.settings import ProjectPaths

from .smtp_server import smtp_server
from .support import edit_yaml, tenant_config

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

SMTP_USER = "alerts@tenant1.test"
SECRETS = {
    "DB_PASSWORD": "Db-Planted-Secret-7731",
    "AZURE_STORAGE_CONNECTION_STRING": (
        "DefaultEndpointsProtocol=https;AccountName=plantedacct;"
        "AccountKey=UGxhbnRlZEFjY291bnRLZXk5OTk=;EndpointSuffix=core.windows.net"
    ),
    "AZURE_SAS_TOKEN": "sv=2023-01-01&sp=rl&se=2030-01-01&sig=PlantedSasSignature42",
    "SMTP_PASSWORD": "Smtp-Planted-Secret-9911",
    "MONGODB_URI": "mongodb://tenant1_user:Mongo-Planted-5566@127.0.0.1:27017",
}
RECIPIENTS = ["ops@tenant1.test", "admin@tenant1.test"]
UI_URL = "http://dagster.example.test:3000"


def planted_values() -> list[str]:
    return [*SECRETS.values(), "UGxhbnRlZEFjY291bnRLZXk5OTk=", "PlantedSasSignature42", "Mongo-Planted-5566"]


def write_env(project: ProjectPaths, tenant_id: str, recipients: list[str]) -> None:
    lines = [f"{name}={value}" for name, value in SECRETS.items()]
    lines.append(f"EMAIL_RECIPIENTS={','.join(recipients)}")
    (project.config_dir / "tenants" / tenant_id / ".env").write_text("\n".join(lines) + "\n")


@pytest.fixture
def secret_project(tmp_path: Path, project: ProjectPaths, monkeypatch) -> ProjectPaths:
    """The project with tenant1's data folder under a path that contains its DB password."""
    paths = ProjectPaths(
        config_dir=project.config_dir,
        data_dir=tmp_path / f"landing-{SECRETS['DB_PASSWORD']}",
        logs_dir=project.logs_dir,
    )
    paths.data_dir.mkdir()
    monkeypatch.setenv("DATAWIZ_DATA_DIR", str(paths.data_dir))
    monkeypatch.setenv("DATAWIZ_UI_URL", UI_URL)
    write_env(paths, "tenant1", RECIPIENTS)
    return paths


def configure_smtp(project: ProjectPaths, tenant_id: str, port: int, **extra) -> None:
    edit_yaml(
        tenant_config(project, tenant_id),
        notifications={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_user": SMTP_USER, **extra},
    )


def failed_run(
    project: ProjectPaths,
    instance: DagsterInstance,
    tenant_id: str,
    job: str = "evening_dimension_sync",
    **tags: str,
):
    """A real run of ``job`` that fails: the tenant's landing folder has no files."""
    defs = build_definitions(project, backend="duckdb")
    result = defs.resolve_job_def(job).execute_in_process(
        partition_key=tenant_id, instance=instance, raise_on_error=False, tags=tags
    )
    assert not result.success
    return defs, instance.get_run_by_id(result.run_id)


def failure_context(instance: DagsterInstance, run):
    [record] = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_FAILURE).records
    return build_run_status_sensor_context(
        sensor_name=RUN_FAILURE_SENSOR,
        dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()


def test_a_failed_run_is_mailed_to_its_tenant_with_no_secret(secret_project, instance):
    with smtp_server(SMTP_USER, SECRETS["SMTP_PASSWORD"]) as server:
        configure_smtp(secret_project, "tenant1", server.port)
        defs, run = failed_run(secret_project, instance, "tenant1")
        sensor = defs.get_repository_def().get_sensor_def(RUN_FAILURE_SENSOR)
        sensor(failure_context(instance, run))

    assert server.logins == [(SMTP_USER, SECRETS["SMTP_PASSWORD"])]  # the .env password, used to log in
    [mail] = server.received
    assert mail.rcpt_tos == RECIPIENTS
    assert mail.mail_from == "datawiz-tenant1@pidilite.com"  # the tenant's sender
    message = mail.message
    assert message["Subject"] == "[datawiz] tenant1: run of evening_dimension_sync failed"
    assert message["To"] == ", ".join(RECIPIENTS)
    body = message.get_content()
    assert "tenant tenant1 (Pidilite Mumbai Operations)" in body
    assert f"Link: {UI_URL}/runs/{run.run_id}" in body
    assert "bronze/dim_material (step bronze__dim_material)" in body
    assert "no file matches" in body  # the error itself
    assert "warehouse/dim_material" in body  # not updated because of the failure
    # the error named the data folder, whose path holds the DB password: masked
    assert f"landing-{MASK}" in body
    for secret in planted_values():
        assert secret not in mail.text
        assert secret.encode() not in mail.raw
    log = (secret_project.logs_dir / "tenant1" / "notifications.log").read_text()
    assert f"failure alert for run {run.run_id} sent to 2 recipient(s)" in log
    assert not any(secret in log for secret in planted_values())
    assert not (secret_project.logs_dir / "tenant2").exists()


def test_a_tenant_without_recipients_gets_no_mail_and_a_log_line(secret_project, instance):
    write_env(secret_project, "tenant1", [])
    with smtp_server(SMTP_USER, SECRETS["SMTP_PASSWORD"]) as server:
        configure_smtp(secret_project, "tenant1", server.port)
        _, run = failed_run(secret_project, instance, "tenant1")
        context = failure_context(instance, run)
        outcome = alert_run_failure(
            secret_project, instance, run, context.failure_event, context.get_step_failure_events()
        )
    assert server.received == []
    assert "EMAIL_RECIPIENTS is empty" in outcome
    assert (
        "EMAIL_RECIPIENTS is empty" in (secret_project.logs_dir / "tenant1" / "notifications.log").read_text()
    )


def test_a_run_with_contradictory_tenants_is_mailed_to_no_one(secret_project, instance):
    with smtp_server(SMTP_USER, SECRETS["SMTP_PASSWORD"]) as server:
        configure_smtp(secret_project, "tenant1", server.port)
        # tenant_etl adds no tenant tag of its own: the run says tenant2, its partition tenant1
        _, run = failed_run(secret_project, instance, "tenant1", "tenant_etl", tenant="tenant2")
        context = failure_context(instance, run)
        outcome = alert_run_failure(
            secret_project, instance, run, context.failure_event, context.get_step_failure_events()
        )
    assert server.received == [] and "no single tenant" in outcome
    assert not secret_project.logs_dir.exists() or not any(secret_project.logs_dir.iterdir())


def test_an_unreachable_smtp_server_fails_the_tick_loudly_without_secrets(
    secret_project, instance, monkeypatch
):
    monkeypatch.setattr("datawiz_pipelines.notifications.email.time.sleep", lambda _: None)
    with smtp_server(SMTP_USER, SECRETS["SMTP_PASSWORD"]) as server:
        port = server.port
    configure_smtp(secret_project, "tenant1", port)  # nothing listens there any more
    _, run = failed_run(secret_project, instance, "tenant1")
    context = failure_context(instance, run)
    with pytest.raises(RuntimeError, match=r"failure alert for run .* not sent") as raised:
        alert_run_failure(
            secret_project, instance, run, context.failure_event, context.get_step_failure_events()
        )
    assert not any(secret in str(raised.value) for secret in planted_values())
    assert "NOT sent" in (secret_project.logs_dir / "tenant1" / "notifications.log").read_text()


def test_success_digest_goes_only_to_tenants_that_asked(secret_project, instance):
    @asset(key=["warehouse", "probe"])
    def probe(context):
        context.add_output_metadata({"dagster/row_count": 42})
        return None

    write_env(secret_project, "tenant2", ["ops@tenant2.test"])
    with smtp_server(SMTP_USER, SECRETS["SMTP_PASSWORD"]) as server:
        configure_smtp(secret_project, "tenant1", server.port)  # success_digest: true in its config
        configure_smtp(secret_project, "tenant2", server.port)  # success_digest: false (shared default)
        defs = build_definitions(secret_project, backend="duckdb")
        sensor = defs.get_repository_def().get_sensor_def(SUCCESS_DIGEST_SENSOR)
        for tenant_id in ("tenant1", "tenant2"):
            result = materialize([probe], instance=instance, tags={"tenant": tenant_id})
            run = instance.get_run_by_id(result.run_id)
            [record] = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_SUCCESS).records
            sensor(
                build_run_status_sensor_context(
                    sensor_name=SUCCESS_DIGEST_SENSOR,
                    dagster_event=record.event_log_entry.dagster_event,
                    dagster_instance=instance,
                    dagster_run=run,
                )
            )
    [mail] = server.received
    assert mail.rcpt_tos == RECIPIENTS
    assert mail.message["Subject"].startswith("[datawiz] tenant1: run of ")
    assert mail.message["Subject"].endswith(" succeeded")
    assert "warehouse/probe: 42 rows" in mail.message.get_content()
    assert not any(secret in mail.text for secret in planted_values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("connect mysql://tenant1_admin:hunter22@db:9030 refused", f"mysql://tenant1_admin:{MASK}@db:9030"),
        ("BlobEndpoint=x;AccountKey=abc123secret==;", f"AccountKey={MASK};"),
        ("GET /c/blob?sv=2023&sig=abcDEF123%3D&se=x", f"sig={MASK}&se=x"),
        ("login failed: password='p4ssw0rd!'", f"password='{MASK}"),
    ],
)
def test_credential_shaped_text_is_masked_even_when_unknown(text, expected):
    assert expected in Redactor()(text)


def test_known_secrets_and_their_parts_are_masked_anywhere():
    from datawiz_pipelines.config.secrets import TenantSecrets

    redact = Redactor.for_tenant(TenantSecrets(**SECRETS, EXTRA_TOKEN="Extra-Planted-1234"))
    text = " ".join([*planted_values(), "Extra-Planted-1234"])
    redacted = redact(text)
    assert not any(secret in redacted for secret in [*planted_values(), "Extra-Planted-1234"])
    # ordinary words of a connection string are not secrets: links keep working
    assert (
        redact("see https://core.windows.net on 2023-01-01") == "see https://core.windows.net on 2023-01-01"
    )


def test_the_sensor_tick_finds_a_failed_run_of_the_cli_on_the_instance(secret_project, instance):
    """As the daemon ticks it: the first tick marks where to start, the next one mails."""
    from dagster import build_sensor_context

    with smtp_server(SMTP_USER, SECRETS["SMTP_PASSWORD"]) as server:
        configure_smtp(secret_project, "tenant1", server.port)
        defs = build_definitions(secret_project, backend="duckdb")
        repository = defs.get_repository_def()
        sensor = repository.get_sensor_def(RUN_FAILURE_SENSOR)

        def tick(cursor):
            return sensor.evaluate_tick(
                build_sensor_context(instance=instance, cursor=cursor, repository_def=repository)
            )

        cursor = tick(None).cursor
        # like `datawiz run`: in process, no code location of its own
        result = defs.resolve_job_def("tenant_etl").execute_in_process(
            partition_key="tenant1", instance=instance, raise_on_error=False, tags={"tenant": "tenant1"}
        )
        assert not result.success
        tick(cursor)
    [mail] = server.received
    assert result.run_id in mail.message.get_content()
    assert mail.rcpt_tos == RECIPIENTS
