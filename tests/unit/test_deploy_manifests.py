"""docker-compose.yml and deploy/k8s/ validate offline and give every segmad service the settings it needs."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ingestion_fixtures import ports  # noqa: F401  (fixture)
from labelling_fixtures import app, store  # noqa: F401  (fixtures)

from segmad.commands.serve import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
K8S = sorted((ROOT / "deploy" / "k8s").rglob("*.yaml"))  # keda/ too: applied once KEDA is installed
SECRET_NAME = "segmad-secrets"

DATABASE = {"SEGMAD_DATABASE_URL"}
BLOBS = {"SEGMAD_BLOB_URL", "SEGMAD_S3_ENDPOINT", "SEGMAD_S3_ACCESS_KEY", "SEGMAD_S3_SECRET_KEY"}
BUS = {"SEGMAD_BUS"}
# Publishing: TorchServe's API, and the folder it loads archives from (its --model-store, shared).
TORCHSERVE = {"SEGMAD_TORCHSERVE_URL", "SEGMAD_MODEL_STORE"}
# What each service needs to reach its servers on a stack (the embedded defaults would silently
# give each container its own SQLite file, blob folder, in-process bus and report folder), and the
# choices a deployment must make rather than inherit. A new service in segmad.commands.serve.SERVICES fails
# test_every_service_has_its_needs_decided until it is entered here.
# Inference loads checkpoints from the blob store into its own process (no SEGMAD_TORCHSERVE_URL):
# the trainer stores every version there and in the catalog as well as publishing it to TorchServe.
NEEDS: dict[str, set[str]] = {
    "ingestion": DATABASE | BLOBS | BUS,
    "labelling": DATABASE | BLOBS | {"SEGMAD_SECRET_KEY",  # replicas must sign sessions alike
                                     "SEGMAD_REPORT_DIR"},  # /report, from a volume `round report` writes to
    "inference": DATABASE | BLOBS | BUS,
    "discrepancy": DATABASE | BLOBS | BUS,
    "trainer": DATABASE | BLOBS | BUS | TORCHSERVE | {"SEGMAD_FINETUNE"},  # demo or paper: a decision
}


@functools.cache
def variables_segmad_reads() -> tuple[set[str], set[str]]:
    """(full names, name prefixes such as SEGMAD_INGEST_) found in the package's source."""
    names = set()
    for path in (ROOT / "services" / "segmad").rglob("*.py"):
        names |= set(re.findall(r"SEGMAD_[A-Z0-9_]+", path.read_text()))
    return {n for n in names if not n.endswith("_")}, {n for n in names if n.endswith("_")}


def is_read(name: str) -> bool:
    full, prefixes = variables_segmad_reads()
    return name in full or any(name.startswith(p) and len(name) > len(p) for p in prefixes)


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def compose_service_running(name: str) -> dict | None:
    """The Compose service whose command is `segmad serve NAME …`."""
    matches = [s for s in compose()["services"].values() if s.get("command", [])[:2] == ["serve", name]]
    return matches[0] if len(matches) == 1 else None


def k8s_documents() -> list[dict]:
    return [doc for path in K8S for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_container_running(name: str) -> dict | None:
    """The container of a Deployment whose args are `serve NAME …`."""
    containers = [c for d in k8s_documents() if d["kind"] == "Deployment"
                  for c in d["spec"]["template"]["spec"]["containers"] if c.get("args", [])[:2] == ["serve", name]]
    return containers[0] if len(containers) == 1 else None


def k8s_environment(container: dict) -> set[str]:
    """Names the container gets: its env entries plus every key of the ConfigMaps it takes whole."""
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in k8s_documents() if d["kind"] == "ConfigMap"}
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        names |= set(config_maps[source["configMapRef"]["name"]])
    return names


def secret_keys_referenced() -> list[dict]:
    return [e["valueFrom"]["secretKeyRef"] for d in k8s_documents() if d["kind"] in ("Deployment", "Job")
            for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})]


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                             str(COMPOSE), str(ROOT / "docker-compose.gpu.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_manifests_validate_strictly():
    validator = Path(sys.executable).with_name("kubernetes-validate")
    result = subprocess.run([str(validator), "--strict", "--quiet", *map(str, K8S)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_has_its_needs_decided():
    assert set(SERVICES) <= set(NEEDS)


def test_needs_name_only_variables_segmad_reads():
    assert {name for needs in NEEDS.values() for name in needs if not is_read(name)} == set()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_compose_runs_each_service_with_the_variables_it_needs(service):
    found = compose_service_running(service)
    assert found is not None, f"no single Compose service runs `segmad serve {service}`"
    assert NEEDS[service] - set(found["environment"]) == set()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_kubernetes_runs_each_service_with_the_variables_it_needs(service):
    found = k8s_container_running(service)
    assert found is not None, f"no single Deployment runs `segmad serve {service}`"
    assert NEEDS[service] - k8s_environment(found) == set()


def test_compose_and_kubernetes_set_only_variables_segmad_reads():
    set_in_compose = {n for s in compose()["services"].values() if s.get("image", "").startswith("segmad")
                      for n in s.get("environment", {}) if n.startswith("SEGMAD_")}
    set_in_k8s = {n for d in k8s_documents() if d["kind"] == "ConfigMap" for n in d["data"]}
    set_in_k8s |= {e["name"] for d in k8s_documents() if d["kind"] in ("Deployment", "Job")
                   for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])
                   if e["name"].startswith("SEGMAD_")}
    assert {n for n in set_in_compose | set_in_k8s if not is_read(n)} == set()


def test_compose_takes_every_secret_from_the_environment():
    # A secret is only ever a ${VAR:?message} reference, which Compose fills from .env or refuses to start.
    secret = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|ROOT_USER")
    reference = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]+\}$")
    literal = {f"{name}.{key}" for name, s in compose()["services"].items()
               for key, value in s.get("environment", {}).items()
               if secret.search(key) and not reference.match(str(value))}
    assert literal == set()
    assert re.search(r"://segmad:\$\{POSTGRES_PASSWORD:\?[^}]+\}@", compose()["x-segmad-settings"]["SEGMAD_DATABASE_URL"])


def test_env_example_lists_exactly_the_variables_compose_requires():
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert listed == required


def test_compose_healthchecks_back_every_wait_for_health():
    services = compose()["services"]
    waited = {dep for s in services.values() for dep, how in s.get("depends_on", {}).items()
              if how["condition"] == "service_healthy"}
    assert {name for name in waited if "healthcheck" not in services[name]} == set()


def test_compose_starts_segmad_services_after_the_migration():
    services = compose()["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for service in SERVICES:
        depends = compose_service_running(service)["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def _torchserve_model_store(args: list[str]) -> str:
    return args[args.index("--model-store") + 1]


def test_compose_trainer_writes_archives_into_the_volume_torchserve_loads_from():
    services = compose()["services"]
    trainer, torchserve = compose_service_running("trainer"), services["torchserve"]
    store = trainer["environment"]["SEGMAD_MODEL_STORE"]
    written = {v.split(":")[0] for v in trainer["volumes"] if v.split(":")[1] == store}
    loaded = {v.split(":")[0] for v in torchserve["volumes"]
              if v.split(":")[1] == _torchserve_model_store(torchserve["command"])}
    assert written and written == loaded and written <= set(compose()["volumes"])


def test_kubernetes_trainer_writes_archives_into_the_claim_torchserve_loads_from():
    deployments = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in k8s_documents()
                   if d["kind"] == "Deployment"}

    def claim_at(pod: dict, container: dict, path: str) -> str | None:
        volume = [m["name"] for m in container.get("volumeMounts", []) if m["mountPath"] == path]
        claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in pod["volumes"]}
        return claims[volume[0]] if volume else None

    trainer = k8s_container_running("trainer")
    store = {e["name"]: e.get("value") for e in trainer["env"]}["SEGMAD_MODEL_STORE"]
    torchserve = deployments["torchserve"]["containers"][0]
    written = claim_at(deployments["segmad-trainer"], trainer, store)
    loaded = claim_at(deployments["torchserve"], torchserve, _torchserve_model_store(torchserve["args"]))
    assert written is not None and written == loaded
    assert loaded in {d["metadata"]["name"] for d in k8s_documents() if d["kind"] == "PersistentVolumeClaim"}


def test_kubernetes_keeps_no_secret_manifest():
    assert [d["metadata"]["name"] for d in k8s_documents() if d["kind"] == "Secret"] == []


def test_kubernetes_secret_keys_are_the_ones_the_readme_creates():
    readme = (ROOT / "deploy" / "README.md").read_text()
    command = re.search(rf"kubectl -n segmad create secret generic {SECRET_NAME}((?:.*\\\n)*.*)", readme)
    assert command is not None, "deploy/README.md shows no `kubectl create secret` command"
    created = set(re.findall(r"--from-literal=([a-z0-9-]+)=", command.group(1)))
    references = secret_keys_referenced()
    assert {r["name"] for r in references} == {SECRET_NAME}
    assert {r["key"] for r in references} == created


def _routes(flask_app) -> set[str]:
    return {rule.rule for rule in flask_app.url_map.iter_rules() if "GET" in rule.methods}


def _health_path(test: list[str]) -> str:
    return re.search(r"http://127\.0\.0\.1:\d+(/[^'\"]*)", " ".join(test)).group(1)


def test_ingestion_probes_are_routes_of_the_ingestion_app(ports):  # noqa: F811
    from segmad.ingestion.app import create_app

    routes = _routes(create_app({"PORTS": ports}))
    probe = k8s_container_running("ingestion")
    assert _health_path(compose_service_running("ingestion")["healthcheck"]["test"]) in routes
    assert {probe["readinessProbe"]["httpGet"]["path"], probe["livenessProbe"]["httpGet"]["path"]} <= routes


def test_labelling_probes_are_routes_of_the_labelling_app(app):  # noqa: F811
    routes = _routes(app)
    probe = k8s_container_running("labelling")
    assert _health_path(compose_service_running("labelling")["healthcheck"]["test"]) in routes
    assert {probe["readinessProbe"]["httpGet"]["path"], probe["livenessProbe"]["httpGet"]["path"]} <= routes


def dockerfile_final_stage() -> list[str]:
    """The instructions of the Dockerfile's last stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    last_from = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return lines[last_from:]


def test_the_image_carries_the_torchserve_handler_where_segmad_looks_for_it():
    stage = dockerfile_final_stage()
    copied = [line.split()[-1] for line in stage if line.startswith("COPY ") and line.split()[1] == "deploy/torchserve"]
    settings = dict(re.findall(r"(SEGMAD_[A-Z_]+)=(\S+)", " ".join(line for line in stage if line.startswith("ENV "))))
    assert copied and settings.get("SEGMAD_TORCHSERVE_DIR") == copied[0]
    assert (ROOT / "deploy" / "torchserve" / "segmad_handler.py").exists()
    assert not any(line.startswith("deploy") for line in (ROOT / ".dockerignore").read_text().splitlines())


def test_the_handler_folder_comes_from_segmad_torchserve_dir_when_set(monkeypatch, tmp_path):
    from segmad.adapters.torchserve_archive import torchserve_dir

    assert (torchserve_dir() / "segmad_handler.py").exists()
    monkeypatch.setenv("SEGMAD_TORCHSERVE_DIR", str(tmp_path))
    assert torchserve_dir() == tmp_path


# -- scaling the bus workers on consumer lag (KEDA ScaledObjects in deploy/k8s/keda/) -----------------

# The ScaledObject spec of KEDA 2.x (its CRD, keda.sh_scaledobjects.yaml), strict as kubernetes-validate
# is for the built-in kinds, which it cannot check: a trigger's metadata is a map of strings.
SCALED_OBJECT = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object", "required": ["scaleTargetRef", "triggers"], "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"], "additionalProperties": False,
                                   "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                                                  "apiVersion": {"type": "string"},
                                                  "envSourceContainerName": {"type": "string"}}},
                **{name: {"type": "integer", "minimum": 0} for name in (
                    "pollingInterval", "cooldownPeriod", "initialCooldownPeriod", "idleReplicaCount",
                    "minReplicaCount", "maxReplicaCount")},
                "fallback": {"type": "object"}, "advanced": {"type": "object"},
                "triggers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["type", "metadata"], "additionalProperties": False,
                    "properties": {"type": {"type": "string"}, "name": {"type": "string"},
                                   "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                                   "authenticationRef": {"type": "object"}, "metricType": {"type": "string"},
                                   "useCachedMetrics": {"type": "boolean"}}}},
            },
        },
    },
}
# The Kafka scaler's parameters (keda.sh/docs/2.17/scalers/apache-kafka/).
KAFKA_SCALER = {"bootstrapServers", "consumerGroup", "topic", "lagThreshold", "activationLagThreshold",
                "offsetResetPolicy", "allowIdleConsumers", "scaleToZeroOnInvalidOffset", "excludePersistentLag",
                "limitToPartitionsWithLag", "ensureEvenDistributionOfPartitions", "version", "partitionLimitation",
                "sasl", "saslTokenProvider", "tls", "unsafeSsl", "awsRegion"}
BUS_WORKERS = ("inference", "discrepancy")  # the services that consume the bus as a group and may scale out


def scaled_objects() -> list[dict]:
    return [d for d in k8s_documents() if d["kind"] == "ScaledObject"]


def worker_subscription(service: str, monkeypatch) -> tuple[str, tuple[str, ...]]:
    """(consumer group, topics) that `segmad serve SERVICE` consumes, as its server hands them to serve_worker."""
    import importlib

    from segmad.runtime.services import SERVICES as MODULES

    server, calls = importlib.import_module(MODULES[service]), []
    monkeypatch.setattr(server, "serve_worker", lambda name, topics, *args, **kwargs: calls.append((name, tuple(topics))))
    server.serve("127.0.0.1", 0)
    [call] = calls
    return call


def k8s_bus() -> dict:
    """KafkaBus arguments of the ConfigMap's SEGMAD_BUS, with the adapter's defaults filled in."""
    import inspect

    from segmad.adapters.kafka import KafkaBus, parse_bus_url

    [config] = [d["data"] for d in k8s_documents() if d["kind"] == "ConfigMap" and "SEGMAD_BUS" in d.get("data", {})]
    defaults = {name: p.default for name, p in inspect.signature(KafkaBus).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **parse_bus_url(config["SEGMAD_BUS"])}


def test_scaled_objects_follow_kedas_schema_and_its_kafka_scaler():
    import jsonschema

    assert scaled_objects(), "deploy/k8s/keda/ holds no ScaledObject"
    for scaled in scaled_objects():
        jsonschema.validate(scaled, SCALED_OBJECT)
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["type"] == "kafka"
            metadata = trigger["metadata"]
            assert set(metadata) <= KAFKA_SCALER and {"bootstrapServers", "consumerGroup", "topic"} <= set(metadata)
            assert metadata["lagThreshold"].isdigit() and int(metadata["lagThreshold"]) > 0
            # segmad's consumers start a new group at the earliest offset: KEDA must count lag the same way.
            assert metadata["offsetResetPolicy"] == "earliest"
        assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]


def test_consumers_start_new_groups_at_the_earliest_offset_as_the_scalers_assume():
    import inspect

    from segmad.adapters.kafka import KafkaBusConsumer

    assert 'auto_offset_reset="earliest"' in inspect.getsource(KafkaBusConsumer)


@pytest.mark.parametrize("service", BUS_WORKERS)
def test_each_bus_worker_scales_on_the_lag_of_the_group_and_topic_it_consumes(service, monkeypatch):
    group, topics = worker_subscription(service, monkeypatch)
    bus = k8s_bus()
    prefix = f"{bus['namespace']}." if bus.get("namespace") else ""  # KafkaBus names groups and topics so
    deployments = {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "Deployment"}
    target = [name for name, d in deployments.items()
              if any(c.get("args", [])[:2] == ["serve", service] for c in d["spec"]["template"]["spec"]["containers"])]
    [scaled] = [s for s in scaled_objects() if s["spec"]["scaleTargetRef"]["name"] in target]
    assert scaled["metadata"]["namespace"] == deployments[target[0]]["metadata"]["namespace"]
    assert scaled["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["metadata"]["bootstrapServers"] == bus["bootstrap"]
    assert trigger["metadata"]["consumerGroup"] == prefix + group
    assert trigger["metadata"]["topic"] in {prefix + topic for topic in topics}
    # More members than partitions sit idle: KEDA stops there anyway, the manifest must not promise more.
    assert scaled["spec"]["maxReplicaCount"] <= bus["partitions"]
    # A replica count in the Deployment would undo the scaler's at every `kubectl apply`.
    assert "replicas" not in deployments[target[0]]["spec"]


def test_the_readme_says_how_to_apply_the_scalers():
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert "kubectl apply -f deploy/k8s/keda/" in readme
