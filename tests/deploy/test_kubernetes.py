"""k8s/: every kustomize overlay rendered with `kubectl kustomize`, validated strictly and offline
against the Kubernetes API schemas (kubernetes-validate), then checked against the platform's
policies: hardened pods, probes, resources, a PodDisruptionBudget and an autoscaler per Deployment,
network policies (default deny; DNS; backends; ingress controller; HTTPS-only egress for the audit
worker), and an Ingress whose every path reaches a pod that serves it."""

from __future__ import annotations

import base64
import functools
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import click
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from forge.registry import SERVICE_NAMES, load_service
from tests.deploy.support import (
    OPERATOR_VALUE,
    PUBLIC_PREFIXES,
    REPO,
    WORKER_SERVICES,
    ForgeCommand,
    check_environment,
    parse_env_file,
    parse_forge_command,
    service_routes,
    shutdown_grace,
    template_matches,
)

K8S = REPO / "k8s"
OVERLAYS = ("base", "overlays/dev", "overlays/prod")
# The Kubernetes version the manifests are validated against (kubernetes-validate ships its schemas).
KUBERNETES_VERSION = "1.32.0"
WORKLOADS = ("Deployment", "StatefulSet", "Job")
FORGE_COMPONENTS = ("http", "worker", "migrate")
# Secrets operators create (keys documented in k8s/base/secrets.example.env); never rendered.
OPERATOR_SECRETS = {"forge-secrets": K8S / "base" / "secrets.example.env"}
INGRESS_NAMESPACE = "ingress-nginx"

Obj = dict[str, Any]


@functools.cache
def rendered(overlay: str) -> tuple[Obj, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with kustomize) is not on PATH: cannot render the k8s overlays")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / overlay)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(overlay: str, *kinds: str) -> list[Obj]:
    return [obj for obj in rendered(overlay) if obj["kind"] in kinds]


def named(overlay: str, kind: str, name: str) -> Obj | None:
    for obj in of_kind(overlay, kind):
        if obj["metadata"]["name"] == name:
            return obj
    return None


def namespace(obj: Obj) -> str:
    return str(obj["metadata"].get("namespace", "default"))


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"].get("labels") or {}
    return labels


def containers(workload: Obj) -> list[Obj]:
    spec = pod_spec(workload)
    return list(spec.get("initContainers") or []) + list(spec["containers"])


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def is_forge(workload: Obj) -> bool:
    return pod_labels(workload).get("app.kubernetes.io/component") in FORGE_COMPONENTS


def forge_command(container: Obj) -> ForgeCommand:
    return parse_forge_command([str(a) for a in container.get("command", []) + container.get("args", [])])


def image_service(image: str) -> str:
    """forge-upload[:tag] or registry/.../upload:tag -> upload."""
    name = image.rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    return name.removeprefix("forge-")


def forge_workloads(overlay: str) -> Iterator[tuple[Obj, Obj, ForgeCommand]]:
    for workload in of_kind(overlay, *WORKLOADS):
        if is_forge(workload):
            for container in pod_spec(workload)["containers"]:
                yield workload, container, forge_command(container)


def deployments_serving(overlay: str, service: str) -> list[Obj]:
    return [
        w
        for w, _, command in forge_workloads(overlay)
        if w["kind"] == "Deployment" and command.runs_http and command.services == (service,)
    ]


# ------------------------------------------------------------------------------------------------
# Rendering and schema validation
# ------------------------------------------------------------------------------------------------


def test_validation_version_is_shipped() -> None:
    assert KUBERNETES_VERSION.rsplit(".", 1)[0] in {v.rsplit(".", 1)[0] for v in all_versions()}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_strictly(overlay: str) -> None:
    objects = rendered(overlay)
    assert objects, f"{overlay} renders nothing"
    errors = []
    for obj in objects:
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{where}: {'.'.join(str(p) for p in exc.path)}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{where}: {exc.message}")
    assert not errors, "\n".join(errors)


# ------------------------------------------------------------------------------------------------
# Workload policy
# ------------------------------------------------------------------------------------------------


def _quantity(value: object) -> bool:
    return value is not None and str(value) not in {"", "0"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workloads_are_hardened(overlay: str) -> None:
    problems = []
    for workload in of_kind(overlay, *WORKLOADS):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        pod_security = spec.get("securityContext") or {}
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: automountServiceAccountToken must be false")
        for container in containers(workload):
            at = f"{where}/{container['name']}"
            resources = container.get("resources") or {}
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if not _quantity((resources.get(section) or {}).get(resource)):
                        problems.append(f"{at}: needs resources.{section}.{resource}")
            security = container.get("securityContext") or {}
            if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
                problems.append(f"{at}: runAsNonRoot")
            if security.get("runAsUser", pod_security.get("runAsUser")) == 0:
                problems.append(f"{at}: runs as uid 0")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{at}: readOnlyRootFilesystem")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allowPrivilegeEscalation must be false")
            if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{at}: capabilities must drop ALL")
            if (security.get("capabilities") or {}).get("add"):
                problems.append(f"{at}: adds capabilities")
            seccomp = security.get("seccompProfile") or pod_security.get("seccompProfile") or {}
            if seccomp.get("type") != "RuntimeDefault":
                problems.append(f"{at}: seccompProfile RuntimeDefault")
            if workload["kind"] == "Deployment":
                for probe in ("livenessProbe", "readinessProbe"):
                    if not container.get(probe):
                        problems.append(f"{at}: needs a {probe}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_forge_pods_probe_health_and_write_only_tmp(overlay: str) -> None:
    for workload, container, command in forge_workloads(overlay):
        at = f"{workload['metadata']['name']}/{container['name']}"
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes") or []}
        assert "/tmp" in mounts, f"{at}: /tmp must be a writable emptyDir"
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{at}: /tmp must be an emptyDir"
        if workload["kind"] != "Deployment":
            continue
        ports = {p["name"]: p["containerPort"] for p in container.get("ports") or []}
        expected_port = 8081 if command.command == "worker" else 8000
        for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
            http = container[probe].get("httpGet") or {}
            assert http.get("path") == path, f"{at}: {probe} must GET {path}"
            port = http.get("port")
            assert ports.get(port, port) == expected_port, f"{at}: {probe} on port {expected_port}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_forge_containers_run_valid_commands_in_their_own_image(overlay: str) -> None:
    for workload, container, _ in forge_workloads(overlay):
        at = f"{workload['metadata']['name']}/{container['name']}"
        try:
            command = forge_command(container)
        except (click.UsageError, ValueError) as exc:
            pytest.fail(f"{at}: {container.get('args')}: {exc}")
        assert command.command in {"serve", "worker", "migrate"}
        assert len(command.services) == 1
        assert command.services[0] in SERVICE_NAMES
        if command.command == "worker":
            assert command.services[0] in WORKER_SERVICES
        assert image_service(container["image"]) == command.services[0], (
            f"{at}: runs {command.services[0]} in image {container['image']} (an image has only its own extra)"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_is_deployed(overlay: str) -> None:
    for service in SERVICE_NAMES:
        deployments = deployments_serving(overlay, service)
        assert len(deployments) == 1, f"{service}: expected one Deployment running `forge serve --services {service}`"
        labels = pod_labels(deployments[0])
        services = [
            s for s in of_kind(overlay, "Service") if selector_matches({"matchLabels": s["spec"]["selector"]}, labels)
        ]
        assert services, f"{service}: no Service selects its pods"
    workers = {
        c.services[0] for w, _, c in forge_workloads(overlay) if c.command == "worker" and w["kind"] == "Deployment"
    }
    assert workers == set(WORKER_SERVICES), "one worker Deployment each for sonic and audit"
    for service in SERVICE_NAMES:
        if load_service(service).has_workers:
            assert service in workers
    migrated = {c.services[0] for w, _, c in forge_workloads(overlay) if c.command == "migrate" and w["kind"] == "Job"}
    assert migrated == set(SERVICE_NAMES), "the migration Job migrates every service"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_matching_pdb(overlay: str) -> None:
    budgets = of_kind(overlay, "PodDisruptionBudget")
    for deployment in of_kind(overlay, "Deployment"):
        matching = [
            pdb
            for pdb in budgets
            if namespace(pdb) == namespace(deployment)
            and selector_matches(pdb["spec"].get("selector"), pod_labels(deployment))
        ]
        assert len(matching) == 1, f"Deployment/{deployment['metadata']['name']}: {len(matching)} matching PDBs"
        assert "maxUnavailable" in matching[0]["spec"] or "minAvailable" in matching[0]["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_is_autoscaled(overlay: str) -> None:
    deployments = {(namespace(d), d["metadata"]["name"]): d for d in of_kind(overlay, "Deployment")}
    targeted = set()
    for hpa in of_kind(overlay, "HorizontalPodAutoscaler"):
        assert hpa["apiVersion"] == "autoscaling/v2"
        ref = hpa["spec"]["scaleTargetRef"]
        key = (namespace(hpa), ref["name"])
        assert ref["kind"] == "Deployment", f"HPA/{hpa['metadata']['name']} targets {ref}"
        assert key in deployments, f"HPA/{hpa['metadata']['name']} targets a missing {ref}"
        assert 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]
        targeted.add(key)
    assert targeted == set(deployments), f"Deployments without an HPA: {sorted(set(deployments) - targeted)}"
    for deployment in deployments.values():
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count; do not apply one"


def test_prod_runs_redundant_replicas_with_pinned_images() -> None:
    for hpa in of_kind("overlays/prod", "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] >= 2, f"HPA/{hpa['metadata']['name']}: at least two replicas in prod"
    for workload in of_kind("overlays/prod", *WORKLOADS):
        for container in containers(workload):
            image = container["image"]
            assert re.search(r":[\w][\w.-]*$|@sha256:", image.rsplit("/", 1)[-1]), f"{image}: pin a tag"
            assert not image.endswith(":latest")
            if is_forge(workload):
                assert "/" in image, f"{image}: prod images come from a registry"


def test_no_secret_values_are_committed() -> None:
    for overlay in ("base", "overlays/prod"):
        assert not of_kind(overlay, "Secret"), f"{overlay} must reference operator-created Secrets, not define them"
    for path in K8S.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^kind:\s*Secret\s*$", text, re.MULTILINE), f"{path}: no Secret manifests"


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_namespace_enforces_restricted_pod_security(overlay: str) -> None:
    namespaces = of_kind(overlay, "Namespace")
    assert len(namespaces) == 1
    labels = namespaces[0]["metadata"].get("labels") or {}
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"
    for obj in rendered(overlay):
        if obj["kind"] != "Namespace":
            assert namespace(obj) == namespaces[0]["metadata"]["name"]


# ------------------------------------------------------------------------------------------------
# Environment of the forge containers
# ------------------------------------------------------------------------------------------------


def secret_values(overlay: str, ns: str, name: str) -> dict[str, str] | None:
    for secret in of_kind(overlay, "Secret"):
        if secret["metadata"]["name"] == name and namespace(secret) == ns:
            values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
            values.update(secret.get("stringData") or {})
            return values
    if name in OPERATOR_SECRETS:
        return dict.fromkeys(parse_env_file(OPERATOR_SECRETS[name]), OPERATOR_VALUE)
    return None


def configmap_values(overlay: str, ns: str, name: str) -> dict[str, str] | None:
    for configmap in of_kind(overlay, "ConfigMap"):
        if configmap["metadata"]["name"] == name and namespace(configmap) == ns:
            return {k: str(v) for k, v in (configmap.get("data") or {}).items()}
    return None


def container_env(overlay: str, workload: Obj, container: Obj) -> dict[str, str]:
    ns = namespace(workload)
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            ref, values = source["configMapRef"], configmap_values(overlay, ns, source["configMapRef"]["name"])
        else:
            ref, values = source["secretRef"], secret_values(overlay, ns, source["secretRef"]["name"])
        if values is None:
            assert ref.get("optional"), f"{container['name']}: {ref['name']} is neither rendered nor documented"
            continue
        prefix = source.get("prefix", "")
        env.update({prefix + k: v for k, v in values.items()})
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        value_from = item["valueFrom"]
        if "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            values = configmap_values(overlay, ns, ref["name"])
        else:
            ref = value_from["secretKeyRef"]
            values = secret_values(overlay, ns, ref["name"])
        if values is not None and ref["key"] in values:
            env[item["name"]] = values[ref["key"]]
        else:
            assert ref.get("optional"), f"{container['name']}: {ref['name']}/{ref['key']} not found"
    return env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_forge_container_environment(overlay: str) -> None:
    for workload, container, command in forge_workloads(overlay):
        env = container_env(overlay, workload, container)
        service = None if command.command == "migrate" else command.services[0]
        problems = check_environment(service, env)
        assert not problems, f"{workload['metadata']['name']}/{container['name']} would not start: {problems}"
        assert env.get("HOST") == "0.0.0.0"
        assert env.get("FORWARDED_ALLOW_IPS") == "*", "uvicorn must trust the ingress controller's X-Forwarded-For"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_forge_pods_stop_within_their_grace_period(overlay: str) -> None:
    """preStop plus SHUTDOWN_GRACE_SECONDS must end before the kubelet's SIGKILL."""
    for workload, container, command in forge_workloads(overlay):
        if workload["kind"] != "Deployment":
            continue
        grace = shutdown_grace(container_env(overlay, workload, container))
        if grace is None:
            pytest.skip("PlatformSettings has no shutdown_grace_seconds")
        pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
        argv = (pre_stop.get("exec") or {}).get("command") or []
        pause = float(argv[1]) if len(argv) == 2 and argv[0] == "sleep" else 0.0
        limit = float(pod_spec(workload).get("terminationGracePeriodSeconds", 30))
        assert pause + grace < limit, (
            f"{workload['metadata']['name']}: preStop {pause}s + SHUTDOWN_GRACE_SECONDS {grace}s >= {limit}s"
        )
        if command.command == "worker":
            assert grace >= 60, "workers get time to finish an in-flight job before handing it back"


def test_only_auth_reads_the_auth_secrets() -> None:
    for workload, container, command in forge_workloads("overlays/dev"):
        env = container_env("overlays/dev", workload, container)
        if command.services != ("auth",):
            assert "BOOTSTRAP_ADMIN_PASSWORD" not in env, f"{workload['metadata']['name']} sees the admin password"


# ------------------------------------------------------------------------------------------------
# Network policies
# ------------------------------------------------------------------------------------------------


def policies_for(overlay: str, workload: Obj) -> list[Obj]:
    return [
        p
        for p in of_kind(overlay, "NetworkPolicy")
        if namespace(p) == namespace(workload) and selector_matches(p["spec"]["podSelector"], pod_labels(workload))
    ]


def rule_ports(rule: Obj) -> set[tuple[str, int]] | None:
    """(protocol, port) pairs a rule allows; None = every port."""
    if not rule.get("ports"):
        return None
    return {(p.get("protocol", "TCP"), int(p["port"])) for p in rule["ports"]}


def egress_rules(overlay: str, workload: Obj) -> list[Obj]:
    return [
        rule
        for policy in policies_for(overlay, workload)
        if "Egress" in policy["spec"].get("policyTypes", [])
        for rule in policy["spec"].get("egress") or []
    ]


def allows_egress_port(overlay: str, workload: Obj, port: int) -> bool:
    return any(
        (ports := rule_ports(rule)) is None or ("TCP", port) in ports for rule in egress_rules(overlay, workload)
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_default_deny_and_dns(overlay: str) -> None:
    policies = of_kind(overlay, "NetworkPolicy")
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "a default-deny policy (all pods, ingress and egress)"
    dns = [
        rule
        for p in policies
        if p["spec"]["podSelector"] == {}
        for rule in p["spec"].get("egress") or []
        if rule_ports(rule) and ("UDP", 53) in (rule_ports(rule) or set())
    ]
    assert dns, "every pod may resolve names (UDP 53)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_is_selected_by_a_network_policy(overlay: str) -> None:
    for deployment in of_kind(overlay, "Deployment"):
        specific = [p for p in policies_for(overlay, deployment) if p["spec"]["podSelector"] != {}]
        assert specific, f"Deployment/{deployment['metadata']['name']}: no NetworkPolicy selects it specifically"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_forge_pods_reach_their_backends(overlay: str) -> None:
    for workload in of_kind(overlay, *WORKLOADS):
        if not is_forge(workload):
            continue
        for port, what in ((5432, "PostgreSQL"), (4222, "NATS")):
            assert allows_egress_port(overlay, workload, port), f"{workload['metadata']['name']} cannot reach {what}"
        assert allows_egress_port(overlay, workload, 9000) or allows_egress_port(overlay, workload, 443), (
            f"{workload['metadata']['name']} cannot reach object storage"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_controller_reaches_http_pods(overlay: str) -> None:
    for service in SERVICE_NAMES:
        for deployment in deployments_serving(overlay, service):
            allowed = False
            for policy in policies_for(overlay, deployment):
                for rule in policy["spec"].get("ingress") or []:
                    from_controller = any(
                        (peer.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                        == INGRESS_NAMESPACE
                        for peer in rule.get("from") or []
                    )
                    ports = rule_ports(rule)
                    allowed |= from_controller and (ports is None or ("TCP", 8000) in ports)
            assert allowed, f"{deployment['metadata']['name']}: the ingress controller cannot reach it"


_ANYWHERE = {"0.0.0.0/0", "::/0"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_audit_worker_leaves_the_cluster_and_only_over_https(overlay: str) -> None:
    for workload in of_kind(overlay, *WORKLOADS):
        labels = pod_labels(workload)
        audit_worker = (
            labels.get("app.kubernetes.io/name") == "audit" and labels.get("app.kubernetes.io/component") == "worker"
        )
        at = f"{workload['kind']}/{workload['metadata']['name']}"
        for rule in egress_rules(overlay, workload):
            peers = rule.get("to")
            assert peers, f"{at}: an egress rule without `to` allows every destination"
            blocks = [peer["ipBlock"] for peer in peers if "ipBlock" in peer]
            if not any(block["cidr"] in _ANYWHERE for block in blocks):
                continue
            assert audit_worker, f"{at}: only the audit worker may reach addresses outside the cluster"
            assert rule_ports(rule) == {("TCP", 443)}, f"{at}: outside the cluster only HTTPS (443)"
            for block in blocks:
                if block["cidr"] == "0.0.0.0/0":
                    excepted = set(block.get("except") or [])
                    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= excepted, (
                        f"{at}: keep private ranges and the metadata endpoint out of the HTTPS egress"
                    )
    audit_workers = [w for w in of_kind(overlay, "Deployment") if w["metadata"]["name"].endswith("audit-worker")]
    assert audit_workers, "an audit worker Deployment"
    assert allows_egress_port(overlay, audit_workers[0], 443), "the audit worker clones over HTTPS"


# ------------------------------------------------------------------------------------------------
# Ingress: every path reaches a pod that serves it
# ------------------------------------------------------------------------------------------------


def ingress_paths(overlay: str) -> list[tuple[str, str, str]]:
    """(pathType, path, service name) of every Ingress rule."""
    found = []
    for ingress in of_kind(overlay, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for item in rule["http"]["paths"]:
                found.append((item["pathType"], item["path"], item["backend"]["service"]["name"]))
    return found


def ingress_choose(overlay: str, path: str) -> tuple[str, str, str] | None:
    """The Ingress path serving `path`: Exact first, then the longest Prefix (element-wise)."""
    best: tuple[str, str, str] | None = None
    for item in ingress_paths(overlay):
        kind, value, _ = item
        if kind == "Exact" and value == path:
            return item
        matches = kind == "Prefix" and (path == value or path.startswith(value.rstrip("/") + "/"))
        if matches and (best is None or len(value) > len(best[1])):
            best = item
    return best


def backend_services(overlay: str, service_name: str) -> tuple[str, ...]:
    """The platform services served by the pods behind a Kubernetes Service."""
    svc = named(overlay, "Service", service_name)
    assert svc is not None, f"the Ingress routes to missing Service {service_name}"
    served: set[str] = set()
    for workload, _, command in forge_workloads(overlay):
        if workload["kind"] == "Deployment" and selector_matches(
            {"matchLabels": svc["spec"]["selector"]}, pod_labels(workload)
        ):
            assert command.runs_http, f"Service {service_name} selects pods that do not serve HTTP"
            ports = {p["targetPort"] for p in svc["spec"]["ports"]}
            assert ports & {"http", 8000}
            served.update(command.services)
    return tuple(sorted(served))


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_ingress_sends_public_prefixes_to_their_service(service: str) -> None:
    for path in PUBLIC_PREFIXES[service]:
        chosen = ingress_choose("overlays/prod", path)
        assert chosen is not None, f"{path} matches no Ingress path"
        assert backend_services("overlays/prod", chosen[2]) == (service,), f"{path} -> {chosen[2]}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_ingress_routes_match_the_service(service: str) -> None:
    routes = service_routes(service)
    if not routes:
        pytest.skip(f"{service} serves no routes yet")
    mine = [item for item in ingress_paths("base") if backend_services("base", item[2]) == (service,)]
    assert mine
    for kind, value, _ in mine:
        if kind == "Exact":
            assert any(template_matches(route, value) for route in routes), f"{value} is not a route of {service}"
        else:
            assert any(route == value or route.startswith(value.rstrip("/") + "/") for route in routes), (
                f"{value} is a prefix of no route of {service}"
            )
    for route in sorted(routes):
        chosen = ingress_choose("base", route)
        reached = backend_services("base", chosen[2]) if chosen else ()
        assert reached == (service,), f"{service} serves {route}, but the Ingress sends it to {reached or 'nothing'}"


def test_ingress_carries_websockets_and_large_bodies() -> None:
    for ingress in of_kind("base", "Ingress"):
        annotations = ingress["metadata"].get("annotations") or {}
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600, "long-lived WebSockets"
        assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
        assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] in {"0", "5g"}


def test_prod_ingress_has_host_and_tls() -> None:
    for ingress in of_kind("overlays/prod", "Ingress"):
        hosts = {rule.get("host") for rule in ingress["spec"]["rules"]}
        assert None not in hosts
        assert ingress["spec"].get("tls")
        assert hosts <= {h for t in ingress["spec"]["tls"] for h in t["hosts"]}


# ------------------------------------------------------------------------------------------------
# Infrastructure of the overlays
# ------------------------------------------------------------------------------------------------


def test_dev_runs_its_own_infrastructure() -> None:
    sets = {s["metadata"]["name"]: s for s in of_kind("overlays/dev", "StatefulSet")}
    assert set(sets) == {"postgres", "nats", "minio"}
    images = {name: pod_spec(s)["containers"][0]["image"] for name, s in sets.items()}
    assert re.fullmatch(r"postgres:16(\.\d+)*(-\w+)?", images["postgres"])
    version = re.fullmatch(r"nats:(\d+)\.(\d+).*", images["nats"])
    assert version
    assert (int(version.group(1)), int(version.group(2))) >= (2, 10)
    assert images["minio"].startswith("minio/minio:")
    for statefulset in sets.values():
        assert statefulset["spec"].get("volumeClaimTemplates"), f"{statefulset['metadata']['name']} keeps its data"
    volume = next(v for v in pod_spec(sets["nats"])["volumes"] if "configMap" in v)
    config = configmap_values("overlays/dev", "forge-dev", volume["configMap"]["name"])
    assert config is not None
    assert re.search(r"^\s*sync_interval:\s*always\s*$", config["nats.conf"], re.MULTILINE)
    assert "--config" in pod_spec(sets["nats"])["containers"][0]["args"]
    setup = named("overlays/dev", "Job", "minio-setup")
    assert setup is not None
    env = container_env("overlays/dev", setup, pod_spec(setup)["containers"][0])
    assert env["FORGE_SERVICES"].split() == list(SERVICE_NAMES), "a bucket for every service"
    for workload in of_kind("overlays/dev", "HorizontalPodAutoscaler"):
        assert workload["spec"]["minReplicas"] == 1


def test_prod_nats_helm_values() -> None:
    values = yaml.safe_load((K8S / "overlays" / "prod" / "nats-values.yaml").read_text(encoding="utf-8"))
    config = values["config"]
    assert config["cluster"]["enabled"] is True
    assert config["cluster"]["replicas"] == 3
    jetstream = config["jetstream"]
    assert jetstream["enabled"] is True
    assert jetstream["fileStore"]["enabled"] is True
    assert jetstream["fileStore"]["pvc"]["enabled"] is True
    assert jetstream["memoryStore"]["enabled"] is False
    assert jetstream["merge"]["sync_interval"] == "always"
    forge_config = configmap_values("overlays/prod", "forge", "forge-config")
    assert forge_config is not None
    assert forge_config["NATS_URL"].startswith("nats://nats.nats.svc")


def test_secret_keys_are_documented() -> None:
    keys = parse_env_file(OPERATOR_SECRETS["forge-secrets"])
    guide = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    for key in keys:
        assert key in guide, f"docs/deploy.md must name the forge-secrets key {key}"
    assert "forge-secrets" in guide
    assert "forge-auth-secrets" in guide
