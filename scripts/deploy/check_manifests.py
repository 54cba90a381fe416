"""Checks rendered Kubernetes manifests (one YAML stream on stdin) for what Tessera's
deployment promises beyond the API schemas: hardened pods, probes and a drain on the
server, names that refer to objects that exist, and the migrate Job's order.
Prints every problem and exits 1 if there is one."""

import sys

import yaml

POD_OWNERS = {"Deployment", "Job", "CronJob"}
REQUEST_TIMEOUT_SECONDS = 30


def pod_spec(obj):
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["metadata"].get("labels", {}), spec["template"]["spec"]


def matches(selector, labels):
    wanted = selector.get("matchLabels", selector) if selector else {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def main():
    docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
    problems = []
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc

    def need(condition, message):
        if not condition:
            problems.append(message)

    for kind in POD_OWNERS:
        for name, obj in by_kind.get(kind, {}).items():
            where = f"{kind}/{name}"
            _, spec = pod_spec(obj)
            pod_security = spec.get("securityContext", {})
            need(pod_security.get("runAsNonRoot") is True, f"{where}: runAsNonRoot is not set")
            need(spec.get("automountServiceAccountToken") is False,
                 f"{where}: the service account token is mounted")
            for container in spec.get("initContainers", []) + spec["containers"]:
                at = f"{where} container {container['name']}"
                security = container.get("securityContext", {})
                need(security.get("readOnlyRootFilesystem") is True,
                     f"{at}: the root file system is writable")
                need(security.get("allowPrivilegeEscalation") is False,
                     f"{at}: privilege escalation is allowed")
                need("ALL" in security.get("capabilities", {}).get("drop", []),
                     f"{at}: capabilities are not dropped")
                resources = container.get("resources", {})
                need("memory" in resources.get("limits", {}), f"{at}: no memory limit")
                need("cpu" in resources.get("requests", {}), f"{at}: no CPU request")
            for volume in spec.get("volumes", []):
                claim = volume.get("persistentVolumeClaim", {}).get("claimName")
                if claim:
                    need(claim in by_kind.get("PersistentVolumeClaim", {}),
                         f"{where}: volume claim {claim} is not defined")
                config_map = volume.get("configMap", {}).get("name")
                if config_map:
                    need(config_map in by_kind.get("ConfigMap", {}),
                         f"{where}: config map {config_map} is not defined")

    deployments = by_kind.get("Deployment", {})
    server = deployments.get("tessera")
    need(server is not None, "Deployment/tessera is missing")
    if server is None:
        report(problems)
    labels, spec = pod_spec(server)
    container = spec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        need(probe in container, f"Deployment/tessera: no {probe}")
    need(container.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/health/ready",
         "Deployment/tessera: readiness is not /health/ready")
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    need(pre_stop[:1] == ["sleep"], "Deployment/tessera: no preStop drain")
    drain = int(pre_stop[1]) if len(pre_stop) > 1 else 0
    grace = spec.get("terminationGracePeriodSeconds", 30)
    need(grace > drain + REQUEST_TIMEOUT_SECONDS,
         f"Deployment/tessera: grace period {grace}s does not cover the drain ({drain}s) "
         f"and a request ({REQUEST_TIMEOUT_SECONDS}s)")
    strategy = server["spec"].get("strategy", {}).get("rollingUpdate", {})
    need(strategy.get("maxUnavailable") == 0, "Deployment/tessera: a rollout may drop below the replicas")
    env = {e["name"]: e for e in container.get("env", [])}
    need(env.get("MIGRATE_ON_START", {}).get("value") == "false",
         "Deployment/tessera: the server pods would migrate")

    services = by_kind.get("Service", {})
    service = services.get("tessera")
    need(service is not None, "Service/tessera is missing")
    service_ports = {}
    if service:
        need(matches(service["spec"].get("selector"), labels),
             "Service/tessera does not select the server pods")
        for port in service["spec"]["ports"]:
            service_ports[port["name"]] = port
            target = port.get("targetPort")
            need(target in ports or target in ports.values(),
                 f"Service/tessera: port {port['name']} targets {target}, which the pods do not open")

    for name, budget in by_kind.get("PodDisruptionBudget", {}).items():
        need(matches(budget["spec"].get("selector"), labels),
             f"PodDisruptionBudget/{name} does not select the server pods")
    for name, policy in by_kind.get("NetworkPolicy", {}).items():
        need(matches(policy["spec"].get("podSelector"), labels),
             f"NetworkPolicy/{name} does not select the server pods")
        for rule in policy["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                need(port["port"] in ports or port["port"] in ports.values(),
                     f"NetworkPolicy/{name}: port {port['port']} is not a server port")
    for name, scaler in by_kind.get("HorizontalPodAutoscaler", {}).items():
        target = scaler["spec"]["scaleTargetRef"]
        need(target["kind"] == "Deployment" and target["name"] in deployments,
             f"HorizontalPodAutoscaler/{name} scales {target['name']}, which does not exist")
        need(scaler["spec"].get("minReplicas", 1) <= scaler["spec"]["maxReplicas"],
             f"HorizontalPodAutoscaler/{name}: minReplicas above maxReplicas")
    for name, ingress in by_kind.get("Ingress", {}).items():
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                need(backend["name"] in services and backend["port"].get("name") in service_ports,
                     f"Ingress/{name}: backend {backend['name']}:{backend['port']} does not exist")
    for name, monitor in by_kind.get("ServiceMonitor", {}).items():
        need(matches(monitor["spec"].get("selector"), service["metadata"].get("labels", {}) if service else {}),
             f"ServiceMonitor/{name} does not select Service/tessera")
        for endpoint in monitor["spec"].get("endpoints", []):
            need(endpoint.get("port") in service_ports,
                 f"ServiceMonitor/{name}: port {endpoint.get('port')} is not a port of Service/tessera")

    job = by_kind.get("Job", {}).get("tessera-migrate")
    need(job is not None, "Job/tessera-migrate is missing")
    if job:
        _, spec = pod_spec(job)
        steps = spec.get("initContainers", []) + spec["containers"]
        kinds = ["roles" if "/sql/roles.sql" in " ".join(c.get("args", [])) else
                 "migrate" if c.get("args", [])[:2] == ["migrate", "up"] else "other"
                 for c in steps]
        need(kinds == ["roles", "migrate", "roles"],
             f"Job/tessera-migrate runs {kinds}, not roles.sql, migrate up, roles.sql")

    report(problems)


def report(problems):
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
