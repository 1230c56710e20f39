"""Tests that keep the documentation honest.

* docs/iac/cloudformation.yaml passes cfn-lint, and the table it declares, created in moto exactly as
  CloudFormation would create it, passes `dynatroni table check` (the CLI's own schema logic) — while a template
  with a wrong key type fails it, so the check can fail;
* docs/iac/terraform/ parses (python-hcl2) and its table passes the same check;
* the IAM policies in docs/iam.md (and the node policies in both IaC files) list exactly the DynamoDB
  actions the code calls, derived by reading the C++ sources, never from a hard-coded copy;
* the per-command action tables of docs/cli.md and docs/iam.md list exactly what each `dynatroni` subcommand's
  code calls (from run.cc's dispatch through every function and class of cli/ it reaches);
* docs/install.md names the Debian package of every library the installed core library and `dynatroni` command
  link (readelf, ldd, dpkg -S), and which of them PostgreSQL 15 pulls in (apt-cache); its build dependencies are
  packaging/source/build-deps.txt, which `make deps` installs and `make source-check` builds with alone;
* docs/systemd/patroni-dynamodb.service has the settings docs/install.md lists, Debian's patroni.service has the
  ones listed for it, every difference has a reason, and nothing every PostgreSQL backend would inherit is set;
* docs/migration.md pins the earlier module's defaults, and the `dynatroni doctor` warning it shows is what
  doctor prints for a cluster still in the earlier default table (run against moto);
* every `dynatroni ...` of docs/*.md (shell blocks and prose, placeholders filled with the test's world) is run
  against moto: a shell block's with the exit code it shows, break-glass on a stuck (or renewed) lease the test
  wrote, checked for the lines shown and its effect on the table; every option of docs/cli.md's synopsis is one
  the command parses; every `patronictl ...` uses a subcommand and options of Patroni's click CLI in each
  supported Patroni (4.1, Debian's 3.0.2); every `make ...` is a target `make -n` accepts;
* docs/configuration.md documents exactly the keys the parser accepts (its own unknown-key message), with the
  defaults it gives, the limits it enforces, the PATRONI_DYNAMODB_* variables it reads, the precedence and URL
  decoding it applies and the error lines it prints;
* docs/errors.md's code table and retry policy are how the real client classifies each DynamoDB error type and
  other answer it names (scripted by a fake endpoint): the Status code, and how many attempts it sends;
* docs/operations.md names the logger the plugin logs on, and its "What the log says" table has one row per
  failure python/tests/test_plugin_failure_log.py produces, quoting a line of the shape that test asserts
  (python/tests/failure_lines.py);
* docs/README.md links every page of docs/, and every relative link in docs/ resolves;
* every link to a heading (`#section`, `page.md#section`) names a heading that page has;
* docs/systemd/patroni-dynamodb.service is accepted by `systemd-analyze verify`;
* the version lives in VERSION only, and CHANGELOG.md has an entry for it;
* docs/install.md lists exactly the files the wheel adds to site-packages beside its package (from its RECORD);
* requirements-dev.lock pins every package (==, with hashes), holds every range of requirements-dev.txt and
  pyproject.toml, `make deps` installs it with --require-hashes and `make lock` recompiles it, as documented.
"""
from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading
import time
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
REGION = "us-east-1"
SCRIPTS = Path(sysconfig.get_path("scripts"))


# ------------------------------------------------------------------ helpers


def dynatroni_cli() -> str:
    cli = SCRIPTS / "dynatroni"
    assert cli.is_file(), f"{cli} missing: `pip install .` installs the dynatroni command"
    return str(cli)


def cli_env(local_dynamodb, endpoint: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PATRONI_"))}
    env.update(local_dynamodb["env"])
    env.update(AWS_REGION=REGION, AWS_ENDPOINT_URL_DYNAMODB=endpoint, HOME="/nonexistent")
    return env


def run_cli(args: List[str], env: Dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([dynatroni_cli(), *args], capture_output=True, text=True, env=env, timeout=timeout)


def boto(endpoint: str, local_dynamodb):
    import boto3
    e = local_dynamodb["env"]
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=e["AWS_ACCESS_KEY_ID"], aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"])


def table_check(table: str, endpoint: str, local_dynamodb) -> Tuple[int, dict]:
    r = run_cli(["table", "check", "--json", "--table", table, "--endpoint-url", endpoint, "--region", REGION],
                cli_env(local_dynamodb, endpoint))
    return r.returncode, json.loads(r.stdout)


def create_table_like(spec: dict, endpoint: str, local_dynamodb) -> None:
    """Create a table from a normalised IaC spec the way CloudFormation / Terraform's provider do."""
    c = boto(endpoint, local_dynamodb)
    c.create_table(TableName=spec["name"], AttributeDefinitions=spec["attributes"], KeySchema=spec["key_schema"],
                   BillingMode=spec["billing"])
    c.get_waiter("table_exists").wait(TableName=spec["name"])
    if spec.get("ttl"):
        c.update_time_to_live(TableName=spec["name"],
                              TimeToLiveSpecification={"AttributeName": spec["ttl"], "Enabled": True})
    if spec.get("pitr"):
        c.update_continuous_backups(TableName=spec["name"],
                                    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def code_constants() -> Dict[str, str]:
    """The table layout constants as the C++ core spells them."""
    header = (REPO / "dcs/dynamo_item_store.h").read_text()
    store = (REPO / "dcs/dynamo_item_store.cc").read_text()
    pk = re.search(r'kPartitionKey\[\]\s*=\s*"([^"]+)"', header)
    sk = re.search(r'kSortKey\[\]\s*=\s*"([^"]+)"', header)
    ttl = re.search(r'names\["#ttl"\]\s*=\s*"([^"]+)"', store)
    assert pk and sk and ttl, "dcs/dynamo_item_store.{h,cc} no longer spell the layout as this test expects"
    return {"partition_key": pk.group(1), "sort_key": sk.group(1), "ttl": ttl.group(1)}


def assert_spec_passes_check(spec: dict, endpoint: str, local_dynamodb) -> None:
    consts = code_constants()
    keys = {k["KeyType"]: k["AttributeName"] for k in spec["key_schema"]}
    assert keys == {"HASH": consts["partition_key"], "RANGE": consts["sort_key"]}, keys
    assert spec["ttl"] == consts["ttl"]
    assert spec["billing"] == "PAY_PER_REQUEST"
    create_table_like(spec, endpoint, local_dynamodb)
    rc, report = table_check(spec["name"], endpoint, local_dynamodb)
    assert rc == 0 and report["problems"] == 0, report
    levels = {c["aspect"]: c["level"] for c in report["checks"]}
    assert levels["key schema"] == "ok" and levels["ttl"] == "ok", report
    assert report["ttl_status"] == "ENABLED" and report["ttl_attribute"] == consts["ttl"], report
    assert report["billing_mode"] == "PAY_PER_REQUEST", report


# ------------------------------------------------------------------ DynamoDB actions from the code


def _client_method_ops() -> Dict[str, Set[str]]:
    """dynamodb::Client method -> the DynamoDB operations it sends (dynamodb/client.cc)."""
    src = (REPO / "dynamodb/client.cc").read_text()
    bodies: Dict[str, str] = {}
    for m in re.finditer(r"^\S[^\n]*\bClient::(\w+)\(", src, re.M):
        end = src.find("\n}\n", m.start())
        bodies[m.group(1)] = src[m.start():end]
    direct = {n: set(re.findall(r'Invoke(?:Text)?\("(\w+)"', b)) | set(re.findall(r'op = "(\w+)"', b))
              for n, b in bodies.items()}
    ops = {}
    for n, b in bodies.items():
        s = set(direct[n])
        for callee in re.findall(r"\b([A-Z]\w+)\(", b):  # e.g. WaitUntilActive -> DescribeTable
            if callee in direct and callee != n:
                s |= direct[callee]
        ops[n] = s
    assert ops.get("GetItem") == {"GetItem"} and ops.get("WaitUntilActive") == {"DescribeTable"}, ops
    return ops


def _ops_in(files: List[Path], client_ops: Dict[str, Set[str]]) -> Set[str]:
    acts: Set[str] = set()
    for f in files:
        text = f.read_text()
        for method in re.findall(r"client_?(?:->|\.)([A-Z]\w+)\(", text):
            if method != "Call":
                acts |= client_ops[method]
        acts |= set(re.findall(r'Call\(\s*(?:\*?[\w.>-]+,\s*)?"(\w+)"', text))
    return acts


def _store_method_ops(client_ops: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    """DynamoItemStore method -> the DynamoDB operations it sends, following its calls of its own methods
    (e.g. Get -> GetItem -> the client's GetItem)."""
    src = (REPO / "dcs/dynamo_item_store.cc").read_text()
    bodies: Dict[str, str] = {}
    for m in re.finditer(r"^\S[^\n]*\bDynamoItemStore::(\w+)\(", src, re.M):
        bodies[m.group(1)] = bodies.get(m.group(1), "") + src[m.start():src.find("\n}\n", m.start())]
    out = {n: _ops_in_text(b, client_ops) for n, b in bodies.items()}
    changed = True
    while changed:
        changed = False
        for n, b in bodies.items():
            for callee in re.findall(r"(?<![>.\w])([A-Z]\w+)\(", b):
                if callee in out and callee != n and not out[callee] <= out[n]:
                    out[n] |= out[callee]
                    changed = True
    assert out.get("Get") == {"GetItem"} and out.get("Write") == {"UpdateItem"}, out
    return out


def _free_function_ops(client_ops: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    """Free functions of dcs/*.cc that call the client themselves (e.g. CheckTableAtStart -> DescribeTable)."""
    out = {}
    for f in _sources("dcs"):
        src = f.read_text()
        for m in re.finditer(r"^(?:Status|Result<[^\n]*?>)\s+(\w+)\((?:\w|dynamodb::)*Client&", src, re.M):
            body = src[m.start():src.find("\n}\n", m.start())]
            ops = _ops_in_text(body, client_ops)
            if ops:
                out[m.group(1)] = ops
    return out


def _free_calls(text: str, free: Dict[str, Set[str]]) -> Set[str]:
    acts: Set[str] = set()
    for name, ops in free.items():
        if re.search(rf"\b{name}\(", text):
            acts |= ops
    return acts


def _ops_in_text(text: str, client_ops: Dict[str, Set[str]]) -> Set[str]:
    acts: Set[str] = set()
    for method in re.findall(r"client_?(?:->|\.)([A-Z]\w+)\(", text):
        if method != "Call":
            acts |= client_ops[method]
    return acts | set(re.findall(r'Call\(\s*(?:\*?[\w.>-]+,\s*)?"(\w+)"', text))


def _sources(folder: str) -> List[Path]:
    return [p for p in sorted((REPO / folder).glob("*.cc"))
            if not p.name.endswith(("_test.cc", "_itest.cc", "_main.cc"))]


def plugin_actions() -> Set[str]:
    """What a Patroni node calls: the DynamoItemStore behind the Dcs, plus anything dcs/ or the bindings call."""
    client_ops = _client_method_ops()
    store = _store_method_ops(client_ops)
    files = [REPO / "dcs/dcs.cc", REPO / "dcs/config.cc", *sorted((REPO / "python/src").glob("*.cc"))]
    free = _free_function_ops(client_ops)
    acts = _ops_in(files, client_ops)
    for f in files:
        for method in re.findall(r"store_?(?:->|\.)([A-Z]\w+)\(", f.read_text()):
            acts |= store.get(method, set())
        acts |= _free_calls(f.read_text(), free)
    for ops in store.values():  # every store operation is reachable from the Dcs
        acts |= ops
    return {f"dynamodb:{a}" for a in acts}


def cli_actions() -> Set[str]:
    client_ops = _client_method_ops()
    store = _store_method_ops(client_ops)
    free = _free_function_ops(client_ops)
    files = _sources("cli")
    acts = _ops_in(files, client_ops)
    for f in files:
        for method in re.findall(r"store(?:->|\.)([A-Z]\w+)\(", f.read_text()):
            acts |= store[method]
        acts |= _free_calls(f.read_text(), free)
    return {f"dynamodb:{a}" for a in acts}


def test_actions_derived_from_the_code_look_right():
    plugin = plugin_actions()
    assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"} <= plugin
    assert "dynamodb:Scan" not in plugin, "the plugin must never Scan"
    assert "dynamodb:CreateTable" in cli_actions() and "dynamodb:Scan" in cli_actions()


# Table-level, read-only actions: they cannot be confined by dynamodb:LeadingKeys.
TABLE_LEVEL_READS = {"dynamodb:DescribeTable"}


def _iam_policies() -> Dict[str, dict]:
    text = (DOCS / "iam.md").read_text()
    found = {}
    for m in re.finditer(r"<!-- policy: (\w+) -->\s*```json\n(.*?)```", text, re.S):
        found[m.group(1)] = json.loads(m.group(2))
    assert set(found) == {"node", "operator"}, f"docs/iam.md must mark a node and an operator policy: {set(found)}"
    return found


def _actions(policy: dict) -> Set[str]:
    acts: Set[str] = set()
    for st in policy["Statement"]:
        a = st["Action"]
        acts |= set([a] if isinstance(a, str) else a)
    return acts


def test_iam_md_policies_list_exactly_the_actions_the_code_uses():
    pol = _iam_policies()
    assert _actions(pol["node"]) == plugin_actions()
    assert _actions(pol["node"]) | _actions(pol["operator"]) == plugin_actions() | cli_actions()
    # operators run the `dynatroni` command and patronictl (the plugin)
    assert _actions(pol["operator"]) == cli_actions() | plugin_actions()
    assert not any("*" in a for p in pol.values() for a in _actions(p)), "no wildcards"
    for st in pol["node"]["Statement"]:
        assert "dynamodb:Scan" not in st["Action"]
        assert st["Resource"].endswith(":table/patroni"), st
        if set(st["Action"]) <= TABLE_LEVEL_READS:
            continue
        # every item-level action is confined to the cluster's partitions
        cond = st["Condition"]["ForAllValues:StringEquals"]
        assert cond["dynamodb:LeadingKeys"], st


def _blank(text: str, strings: bool) -> str:
    """`text` with comments (and, with `strings`, string and character literals) replaced by spaces of the same
    length, so that positions stay valid."""
    pattern = r'//[^\n]*|/\*.*?\*/' + (r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""" if strings else "")
    return re.sub(pattern, lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)


def _cpp_units(path: Path) -> Dict[str, str]:
    """Top-level functions and classes of a C++ source file (inside namespaces): name -> body text, comments
    removed. A class's methods are part of the class's body, not names of their own."""
    code = _blank(path.read_text(), strings=False)
    bare = _blank(code, strings=True)
    units: Dict[str, str] = {}
    stack: List[bool] = []  # per open brace: is it a namespace's?
    header_start = 0
    top_start = None
    for i, ch in enumerate(bare):
        if ch == "{":
            at_top = all(stack)
            is_ns = at_top and re.search(r"\bnamespace\b[\w:\s]*$", bare[header_start:i]) is not None
            if at_top and not is_ns:
                top_start = header_start
            stack.append(is_ns)
            if is_ns:
                header_start = i + 1
        elif ch == "}":
            is_ns = stack.pop()
            if all(stack) and not is_ns and top_start is not None:
                header = bare[top_start:bare.index("{", top_start)]
                cls = re.search(r"\b(?:class|struct)\s+(\w+)", header)
                fn = re.search(r"(\w+)\s*\(", header)
                name = cls.group(1) if cls else fn.group(1) if fn else None
                if name:
                    units[name] = units.get(name, "") + code[top_start:i + 1]
                top_start = None
            if all(stack):
                header_start = i + 1
        elif ch == ";" and all(stack):
            header_start = i + 1
    return units


def _cli_dispatch() -> Dict[str, str]:
    """`dynatroni` subcommand (as the docs name it) -> the function cli/run.cc dispatches it to."""
    run = _blank((REPO / "cli/run.cc").read_text(), strings=False)
    out = {cmd: fn for cmd, fn in re.findall(r'cmd == "([\w-]+)"\) return (Run\w+)\(', run)}
    table = re.search(r'if \(cmd == "table"\) \{(.*?)\n  \}', run, re.S)
    assert table, "cli/run.cc: no `table` dispatch block"
    subs = re.findall(r'o\.command\[1\] == "(\w+)"\) return (Run\w+)\(', table.group(1))
    rest = re.findall(r"^\s*return (Run\w+)\(", table.group(1), re.M)
    assert len(subs) == 1 and len(rest) == 1, table.group(1)
    out[f"table {subs[0][0]}"] = subs[0][1]
    out["table check"] = rest[0]
    usage = (REPO / "cli/options.cc").read_text()
    assert 'dynatroni table check' in usage and 'dynatroni break-glass promote' in usage
    out["break-glass promote"] = out.pop("break-glass")
    return out


def cli_command_actions() -> Dict[str, Set[str]]:
    """For each `dynatroni` subcommand, the DynamoDB operations its code calls: the function it is dispatched to
    and every function or class of cli/ that it reaches (by name), through the client (`client->X(`,
    `Call("X"`), the item store (`store->X(`) and dcs/'s free functions that take a Client."""
    client_ops = _client_method_ops()
    store = _store_method_ops(client_ops)
    free = _free_function_ops(client_ops)
    units: Dict[str, str] = {}
    for f in _sources("cli"):
        for name, body in _cpp_units(f).items():
            units[name] = units.get(name, "") + body
    assert {"InspectTable", "Doctor", "BreakGlass", "RunList"} <= set(units), sorted(units)

    def reach(entry: str) -> Set[str]:
        seen, todo = {entry}, [entry]
        while todo:
            body = units[todo.pop()]
            for tok in set(re.findall(r"\b[A-Za-z_]\w*\b", _blank(body, strings=True))):
                if tok in units and tok not in seen:
                    seen.add(tok)
                    todo.append(tok)
        return seen

    out = {}
    for cmd, entry in _cli_dispatch().items():
        assert entry in units, f"{entry} (for `dynatroni {cmd}`) not found in cli/"
        acts: Set[str] = set()
        for name in reach(entry):
            body = units[name]
            acts |= _ops_in_text(body, client_ops) | _free_calls(body, free)
            for method in re.findall(r"store_?(?:->|\.)([A-Z]\w+)\(", body):
                acts |= store[method]
        out[cmd] = acts
    return out


def test_cli_command_actions_derived_from_the_code_look_right():
    per = cli_command_actions()
    assert {"CreateTable", "DescribeTable", "UpdateTimeToLive"} <= per["table create"]
    assert "CreateTable" not in per["table check"] and "Scan" not in per["status"]
    assert {"GetItem", "Query", "UpdateItem", "DescribeTable"} <= per["doctor"]
    assert per["list"] == {"Scan", "Query"} and per["cost"] == set()
    assert {f"dynamodb:{a}" for acts in per.values() for a in acts} == cli_actions()


def _doc_command_table(doc: str, after: str) -> Dict[str, Set[str]]:
    """The `| command | actions |` table that follows the heading `after` in docs/<doc>: command -> actions
    (the backticked CamelCase words of the second column)."""
    text = (DOCS / doc).read_text()
    section = text[text.index(after):]
    m = re.search(r"^\| command \| actions \|\n\|[-|]+\|\n((?:\|.*\n)+)", section, re.M)
    assert m, f"docs/{doc}: no `| command | actions |` table after {after!r}"
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        cmds = re.findall(r"`([^`]+)`", cells[0])
        assert len(cmds) == 1, f"docs/{doc}: one command per row: {line}"
        rows[cmds[0]] = set(re.findall(r"`(?:dynamodb:)?([A-Z][A-Za-z]+)`", cells[1]))
    return rows


def test_cli_md_and_iam_md_list_per_command_exactly_the_actions_the_code_calls():
    per = cli_command_actions()
    store = _store_method_ops(_client_method_ops())
    for doc, after in (("cli.md", "## IAM permissions"), ("iam.md", "## Operators")):
        rows = _doc_command_table(doc, after)
        extra = {"patronictl remove": store["DeletePartition"]} if doc == "iam.md" else {}
        expected = {**per, **extra}
        assert set(rows) == set(expected), f"docs/{doc}: commands {sorted(rows)}, the code has {sorted(expected)}"
        wrong = {c: {"documented": sorted(rows[c]), "code": sorted(expected[c])}
                 for c in expected if rows[c] != expected[c]}
        assert not wrong, f"docs/{doc}: actions per command differ from the code: {wrong}"


def test_cli_md_names_exactly_the_plugins_actions():
    text = (DOCS / "cli.md").read_text()
    section = text[text.index("## IAM permissions"):]
    intro = section[:section.index("| command | actions |")]
    named = set(re.findall(r"`(dynamodb:[A-Za-z]+)`", intro))
    assert named == plugin_actions(), \
        f"docs/cli.md names {sorted(named)} for the plugin; the code calls {sorted(plugin_actions())}"


def test_iam_md_node_table_lists_exactly_the_plugins_actions():
    text = (DOCS / "iam.md").read_text()
    m = re.search(r"^\| action \| used for \|\n\|[-|]+\|\n((?:\|.*\n)+)", text, re.M)
    assert m, "docs/iam.md: no `| action | used for |` table"
    assert set(re.findall(r"^\| `(dynamodb:\w+)`", m.group(1), re.M)) == plugin_actions()


# ------------------------------------------------------------------ CloudFormation


def _cfn_load(text: str) -> dict:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = value.split(".")
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    Loader.add_multi_constructor("!", tag)
    return yaml.load(text, Loader=Loader)


def _cfn_resolve(value, params: Dict[str, str]):
    if isinstance(value, dict) and list(value) == ["Ref"] and value["Ref"] in params:
        return params[value["Ref"]]
    return value


def cfn_table_spec(template: dict) -> dict:
    params = {k: v.get("Default") for k, v in template["Parameters"].items()}
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == 1
    p = tables[0]["Properties"]
    return {
        "name": _cfn_resolve(p["TableName"], params),
        "attributes": p["AttributeDefinitions"],
        "key_schema": p["KeySchema"],
        "billing": p["BillingMode"],
        "ttl": p["TimeToLiveSpecification"]["AttributeName"] if p["TimeToLiveSpecification"]["Enabled"] else None,
        "pitr": True,
    }


def test_cloudformation_template_passes_cfn_lint():
    cfn_lint = SCRIPTS / "cfn-lint"
    assert cfn_lint.is_file(), "cfn-lint missing: `make deps` installs requirements-dev.txt"
    r = subprocess.run([str(cfn_lint), str(DOCS / "iac/cloudformation.yaml")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_cloudformation_table_matches_what_the_code_expects(local_dynamodb):
    endpoint = local_dynamodb["endpoints"]["moto"]
    template = _cfn_load((DOCS / "iac/cloudformation.yaml").read_text())
    spec = cfn_table_spec(template)
    spec["name"] = "docs-cfn-" + spec["name"]
    assert_spec_passes_check(spec, endpoint, local_dynamodb)
    # The node policy grants exactly what the plugin calls.
    policy = template["Resources"]["NodePolicy"]["Properties"]["PolicyDocument"]
    assert set().union(*(st["Action"] for st in policy["Statement"])) == plugin_actions()
    for st in policy["Statement"]:
        if not set(st["Action"]) <= TABLE_LEVEL_READS:
            assert "dynamodb:LeadingKeys" in json.dumps(st["Condition"]), st


def test_a_drifted_template_would_fail_the_check(local_dynamodb):
    endpoint = local_dynamodb["endpoints"]["moto"]
    spec = cfn_table_spec(_cfn_load((DOCS / "iac/cloudformation.yaml").read_text()))
    spec["name"] = "docs-cfn-drifted"
    spec["attributes"] = [dict(a, AttributeType="N") if a["AttributeName"] == "key" else a
                          for a in spec["attributes"]]
    create_table_like(spec, endpoint, local_dynamodb)
    rc, report = table_check(spec["name"], endpoint, local_dynamodb)
    assert rc == 1 and report["problems"] == 1, report


# ------------------------------------------------------------------ Terraform


def _hcl(value):
    """python-hcl2 keeps quotes around string literals (v5+): strip them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _hcl_block(blocks: list, *names: str) -> dict:
    for b in blocks:
        for k, v in b.items():
            if _hcl(k) == names[0]:
                if len(names) == 1:
                    return v
                for k2, v2 in v.items():
                    if _hcl(k2) == names[1]:
                        return v2
    raise KeyError(names)


def load_terraform() -> Dict[str, dict]:
    import hcl2  # python-hcl2 (requirements-dev.txt)
    out = {}
    for name in ("main.tf", "variables.tf", "outputs.tf"):
        with open(DOCS / "iac/terraform" / name) as f:
            out[name] = hcl2.load(f)
    return out


def terraform_table_spec(tf: Dict[str, dict]) -> dict:
    table = _hcl_block(tf["main.tf"]["resource"], "aws_dynamodb_table", "patroni")
    variables = {_hcl(k): v for b in tf["variables.tf"]["variable"] for k, v in b.items()}
    name = table["name"]
    m = re.fullmatch(r"\$\{var\.(\w+)\}", name)
    if m:
        name = _hcl(variables[m.group(1)]["default"])
    types = {_hcl(a["name"]): _hcl(a["type"]) for a in table["attribute"]}
    ttl = table["ttl"][0]
    return {
        "name": name,
        "attributes": [{"AttributeName": n, "AttributeType": t} for n, t in types.items()],
        "key_schema": [{"AttributeName": _hcl(table["hash_key"]), "KeyType": "HASH"},
                       {"AttributeName": _hcl(table["range_key"]), "KeyType": "RANGE"}],
        "billing": _hcl(table["billing_mode"]),
        "ttl": _hcl(ttl["attribute_name"]) if ttl["enabled"] is True else None,
        "pitr": True,
    }


def test_terraform_module_parses_and_matches_what_the_code_expects(local_dynamodb):
    tf = load_terraform()
    spec = terraform_table_spec(tf)
    assert {a["AttributeName"] for a in spec["attributes"]} == {k["AttributeName"] for k in spec["key_schema"]}
    spec["name"] = "docs-tf-" + spec["name"]
    assert_spec_passes_check(spec, local_dynamodb["endpoints"]["moto"], local_dynamodb)
    doc = _hcl_block(tf["main.tf"]["data"], "aws_iam_policy_document", "nodes")
    assert {_hcl(a) for st in doc["statement"] for a in st["actions"]} == plugin_actions()
    for st in doc["statement"]:
        if not {_hcl(a) for a in st["actions"]} <= TABLE_LEVEL_READS:
            assert _hcl(st["condition"][0]["variable"]) == "dynamodb:LeadingKeys", st
    outputs = {_hcl(k) for b in tf["outputs.tf"]["output"] for k in b}
    assert {"table_name", "table_arn", "node_policy_arn"} <= outputs


# ------------------------------------------------------------------ commands shown in the docs


def shown_runs() -> List[Tuple[str, str, int, List[str]]]:
    """(doc name, command, expected exit code, the output lines the doc shows after it) for every command line in a
    fenced shell block of docs/*.md.

    In ```sh / ```bash blocks every non-comment line is a command (with `\\` continuations); in any fenced
    block a line starting with `$ ` is one, and a later `[exit N]` line gives its expected exit code.
    """
    out = []
    for md in sorted(DOCS.glob("*.md")):
        text = md.read_text()
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            lang, body = m.group(1), m.group(2)
            lines = body.replace("\\\n", " ").splitlines()
            for i, line in enumerate(lines):
                cmd = None
                if line.startswith("$ "):
                    cmd = line[2:]
                elif lang in ("sh", "bash") and line.strip() and not line.lstrip().startswith("#"):
                    cmd = line.strip()
                if not cmd:
                    continue
                cmd = re.sub(r"\s+#.*$", "", cmd).strip()
                expected = 0
                shown: List[str] = []
                for later in lines[i + 1:]:
                    if later.startswith("$ "):
                        break
                    e = re.fullmatch(r"\[exit (\d+)\]", later.strip())
                    if e:
                        expected = int(e.group(1))
                        break
                    shown.append(later)
                out.append((md.name, " ".join(cmd.split()), expected, shown if lang not in ("sh", "bash") else []))
    return out


def shown_commands() -> List[Tuple[str, str, int]]:
    """(doc name, command, expected exit code) of shown_runs()."""
    return [(d, c, x) for d, c, x, _ in shown_runs()]


def _outside_fences(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def inline_commands(tool: str) -> List[Tuple[str, str]]:
    """(doc name, command) for every `tool ...` in backticks in the prose of docs/*.md (outside fenced blocks)."""
    out = []
    for md in sorted(DOCS.glob("*.md")):
        for cmd in re.findall(rf"`({re.escape(tool)}(?: [^`]*)?)`", _outside_fences(md.read_text())):
            out.append((md.name, " ".join(cmd.split())))
    return out


def _tool_and_args(cmd: str) -> Tuple[str, List[str]]:
    words = shlex.split(cmd)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):  # VAR=value prefixes
        words = words[1:]
    if words and words[0] in ("sudo",):
        words = words[1:]
    return (Path(words[0]).name if words else ""), words[1:]


def _make_targets() -> Set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))


def test_docs_show_commands():
    cmds = shown_commands()
    tools = {_tool_and_args(c)[0] for _, c, _ in cmds}
    assert {"dynatroni", "patronictl", "make"} <= tools, tools


def test_every_make_command_shown_is_a_target_that_make_accepts():
    missing = []
    targets = _make_targets()
    for doc, cmd, _ in shown_commands():
        tool, args = _tool_and_args(cmd)
        if tool == "make":
            for t in [a for a in args if not a.startswith("-") and "=" not in a]:
                if t not in targets:
                    missing.append(f"{doc}: {cmd} (no Makefile target {t})")
                else:
                    r = subprocess.run(["make", "-n", t], cwd=REPO, capture_output=True, text=True, timeout=60)
                    if r.returncode != 0:
                        missing.append(f"{doc}: {cmd} (`make -n {t}` fails: {r.stderr.strip()[:200]})")
    assert not missing, "\n".join(missing)


# ------------------------------------------------------------------ patronictl commands in the docs

# The Patroni versions the docs support (docs/install.md): each one's click CLI, read by the Python that has it.
_PATRONI_PYTHONS = {"4.1": sys.executable, "3.0.2": "/usr/bin/python3"}
_CLICK_DUMP = r"""
import json, sys
import patroni, patroni.ctl as c
def opts(params):
    out = {"--help": False}
    for p in params:
        if p.param_type_name == "option":
            for o in p.opts + p.secondary_opts:
                out[o] = not p.is_flag and not p.count
    return out
def nargs(params):
    return [p.nargs for p in params if p.param_type_name == "argument"]
v = getattr(patroni, "__version__", None)
if v is None:
    from patroni.version import __version__ as v
print(json.dumps({"version": v, "global": opts(c.ctl.params),
                  "commands": {n: {"options": opts(cmd.params), "nargs": nargs(cmd.params)}
                               for n, cmd in c.ctl.commands.items()}}))
"""


@functools.lru_cache(maxsize=None)
def _patronictl_cli(python: str) -> dict:
    """Patroni's click CLI as the Python `python` has it: version, global options and per subcommand its options
    (option -> takes a value) and the nargs of its arguments."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run([python, "-c", _CLICK_DUMP], capture_output=True, text=True, timeout=60, env=env, cwd="/")
    assert r.returncode == 0, f"{python}: cannot read patroni.ctl: {r.stderr[-600:]}"
    return json.loads(r.stdout)


def patronictl_commands() -> List[Tuple[str, str]]:
    """(doc name, command) for every patronictl command the docs show: in shell blocks and in the prose."""
    tools = ("patronictl", "patronictl-dynamodb")
    cmds = [(d, c) for d, c, _ in shown_commands() if _tool_and_args(c)[0] in tools]
    for tool in tools:
        cmds += [(d, c) for d, c in inline_commands(tool) if c not in (tool, f"{tool} ...")]
    return cmds


def _patronictl_problems(cli: dict, cmd: str) -> List[str]:
    """What in `cmd` Patroni's click CLI `cli` would reject: an unknown subcommand or option, extra arguments."""
    _, args = _tool_and_args(cmd)
    problems: List[str] = []

    def options(known: Dict[str, bool], words: List[str], where: str) -> Tuple[List[str], int]:
        positional, i = [], 0
        while i < len(words):
            w = words[i]
            if w.startswith("-"):
                name = w.split("=", 1)[0]
                if name not in known:
                    problems.append(f"{where} has no option {name}")
                elif known[name] and "=" not in w:
                    i += 1  # its value
            elif where == "patronictl":
                return positional, i
            else:
                positional.append(w)
            i += 1
        return positional, i

    _, i = options(cli["global"], args, "patronictl")
    if i >= len(args):
        return problems + ["no subcommand"]
    sub = args[i]
    if sub not in cli["commands"]:
        return problems + [f"patronictl has no subcommand {sub!r}"]
    known = cli["commands"][sub]
    positional, _ = options(known["options"], args[i + 1:], f"`patronictl {sub}`")
    if -1 not in known["nargs"] and len(positional) > sum(known["nargs"]):
        problems.append(f"`patronictl {sub}` takes {sum(known['nargs'])} argument(s), not {positional}")
    return problems


def test_every_patronictl_command_in_the_docs_exists_in_each_supported_patroni():
    """Each `patronictl ...` of docs/ (shell blocks and prose): its subcommand and every option it uses exist in
    Patroni's click CLI (patroni.ctl) of every Patroni version the docs support — Patroni 4.1 (this venv) and
    Debian's 3.0.2 (/usr/bin/python3)."""
    cmds = patronictl_commands()
    assert len(cmds) >= 20 and any("--candidate" in c for _, c in cmds), cmds
    install = (DOCS / "install.md").read_text()
    checked = []
    for version, python in _PATRONI_PYTHONS.items():
        assert f"Patroni {version}" in install, f"docs/install.md no longer names Patroni {version}"
        if not Path(python).exists():
            continue
        cli = _patronictl_cli(python)
        if cli["version"] != version and not cli["version"].startswith(version + "."):
            continue  # another Patroni in that Python: not the documented one
        checked.append(version)
        problems = [f"{doc}: {cmd}: {p} (Patroni {version})"
                    for doc, cmd in cmds for p in _patronictl_problems(cli, cmd)]
        assert not problems, "\n".join(problems)
    assert "4.1" in checked, checked
    if "3.0.2" not in checked:
        pytest.skip("Debian's patroni 3.0.2 is not installed (`make deps`): checked against Patroni 4.1 only")


def test_patronictl_check_can_fail():
    """The check above on commands that are wrong (an option, a subcommand, an argument too many) and right."""
    cli = _patronictl_cli(sys.executable)
    assert not _patronictl_problems(cli, "patronictl failover --candidate NODE --force")
    assert not _patronictl_problems(cli, "patronictl -c /etc/patroni/patroni.yml list batman")
    assert _patronictl_problems(cli, "patronictl failover --to NODE")
    assert _patronictl_problems(cli, "patronictl promote NODE")
    assert _patronictl_problems(cli, "patronictl pause batman extra")


# ------------------------------------------------------------------ dynatroni commands in the docs


def _prepare_world(endpoint: str, local_dynamodb, work: Path) -> Path:
    """The table `patroni` with clusters `batman` and `robin` (a live plugin leader each), `wrong-table`."""
    c = boto(endpoint, local_dynamodb)
    existing = c.list_tables()["TableNames"]
    if "wrong-table" not in existing:
        c.create_table(TableName="wrong-table", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
                       KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    cfg = work / "patroni.yml"
    e = local_dynamodb["env"]
    cfg.write_text(textwrap.dedent(f"""\
        scope: batman
        name: pg1
        dynamodb:
          table_name: patroni
          region: {REGION}
          endpoint_url: {endpoint}
          access_key_id: {e['AWS_ACCESS_KEY_ID']}
          secret_access_key: {e['AWS_SECRET_ACCESS_KEY']}
        """))
    return cfg


def _write_clusters(endpoint: str, local_dynamodb) -> None:
    from dynatroni.patroni_loader import install
    install()
    from patroni.dcs import get_dcs
    e = local_dynamodb["env"]
    for scope, name in (("batman", "pg1"), ("robin", "r1")):
        dcs = get_dcs({"scope": scope, "name": name, "ttl": 30, "loop_wait": 10, "retry_timeout": 10,
                       "dynamodb": {"table_name": "patroni", "region": REGION, "endpoint_url": endpoint,
                                    "access_key_id": e["AWS_ACCESS_KEY_ID"],
                                    "secret_access_key": e["AWS_SECRET_ACCESS_KEY"]}})
        dcs.touch_member({"role": "primary", "state": "running", "conn_url": "postgres://127.0.0.1:5432/postgres",
                          "api_url": "http://127.0.0.1:8008/patroni", "timeline": 1, "xlog_location": 1})
        assert dcs.attempt_to_acquire_leader()


# Values for the placeholders of the documented `dynatroni` commands: what the world of the test below holds.
_PLACEHOLDERS = {"NAME": "batman", "<scope>": "batman", "<table>": "patroni", "NODE": "pg2", "NEW": "docs-new-table"}
# Options whose value is free text, never a placeholder.
_FREE_TEXT = {"--reason"}


def _fill(args: List[str]) -> Tuple[List[str], List[str]]:
    """`args` with placeholders (NAME, <scope>, ...) replaced by _PLACEHOLDERS; and the unknown ones."""
    out, unknown = [], []
    for i, a in enumerate(args):
        if i > 0 and args[i - 1] == "--endpoint-url":  # the doc's endpoint (a local server, or `...`): the world's
            out.append(a)
        elif i > 0 and args[i - 1] in _FREE_TEXT:
            out.append(a)
        elif a in _PLACEHOLDERS:
            out.append(_PLACEHOLDERS[a])
        elif re.fullmatch(r"<[^>]+>|[A-Z][A-Z0-9_]*|.*(\[|\.\.\.|\|).*", a):
            unknown.append(a)
            out.append(a)
        else:
            out.append(a)
    return out, unknown


def _subcommand(args: List[str]) -> List[str]:
    words = []
    for a in args:
        if a.startswith("-"):
            break
        words.append(a)
    return words[:2] if words[:1] in (["table"], ["break-glass"]) else words[:1]


def _probe_option(sub: List[str], option: List[str], env: Dict[str, str]) -> str:
    """'' if `dynatroni SUB OPTION...` parses: the probe option after it is the one reported unknown; else the
    error."""
    r = run_cli([*sub, *option, "--zz-docs-probe"], env, timeout=30)
    if r.returncode == 2 and "unknown option '--zz-docs-probe'" in r.stderr:
        return ""
    return f"exit {r.returncode}: {(r.stderr or r.stdout).strip().splitlines()[:1]}"


def _normalized(line: str) -> str:
    """A regex for a shown output line whose numbers, timestamps and session tokens may differ in a real run."""
    parts = []
    for tok in re.split(r"(session [^\s)]+|\d+(?:\.\d+)?)", " ".join(line.split())):
        if tok.startswith("session "):
            parts.append(r"session [^\s)]+")
        elif re.fullmatch(r"\d+(?:\.\d+)?", tok):
            parts.append(r"\d+(?:\.\d+)?")
        else:
            parts.append(re.escape(tok))
    return "".join(parts)


def _shows_line(shown_line: str, output: str) -> bool:
    pattern = _normalized(shown_line)
    return any(re.fullmatch(pattern, " ".join(ln.split())) for ln in output.splitlines())


def _world_dcs(endpoint: str, local_dynamodb, table: str, scope: str, name: str, ttl: int):
    from dynatroni.patroni_loader import install
    install()
    from patroni.dcs import get_dcs
    e = local_dynamodb["env"]
    loop = max(1, ttl // 3)
    return get_dcs({"scope": scope, "name": name, "ttl": ttl, "loop_wait": loop, "retry_timeout": loop,
                    "dynamodb": {"table_name": table, "region": REGION, "endpoint_url": endpoint,
                                 "access_key_id": e["AWS_ACCESS_KEY_ID"],
                                 "secret_access_key": e["AWS_SECRET_ACCESS_KEY"]}})


def _member_data(role: str) -> dict:
    return {"role": role, "state": "running" if role == "primary" else "streaming",
            "conn_url": "postgres://127.0.0.1:5432/postgres", "api_url": "http://127.0.0.1:8008/patroni",
            "timeline": 1, "xlog_location": 1}


def _cluster_state(table: str, cluster: str, env: Dict[str, str]) -> dict:
    r = run_cli(["status", "--json", "--table", table, "--cluster", cluster], env)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def _lease(state: dict) -> Tuple:
    lead = state["leader"] or {}
    return lead.get("state"), lead.get("name"), lead.get("version"), lead.get("term")


# A stuck lease for break-glass: its item promises this lease (s; the least with which the plugin holds a lease at
# all: its margin is 2 s), so the watch takes this long, unless the
# command's --failover-time is longer.
_STUCK_LEASE_S = 3


class _BreakGlassRun:
    """One documented `dynatroni break-glass promote` run for real, on the world the doc describes: in a table of
    its own (PATRONI_DYNAMODB_TABLE_NAME, layered over -c's file as documented), the cluster with the stuck lease
    of the doc's holder (written by the plugin, then never renewed — or, when the doc shows a refusal because the
    lease was renewed during the watch, renewed by the plugin a second into the watch) and the member it names. The
    command runs in the background; finish() checks its exit code, the lines the doc shows and the effect on the
    table."""

    def __init__(self, index: int, doc: str, cmd: str, expected: int, shown: List[str], args: List[str],
                 endpoint: str, local_dynamodb, env: Dict[str, str]):
        self.doc, self.cmd, self.expected, self.shown = doc, cmd, expected, shown
        self.cluster = args[args.index("--cluster") + 1]
        self.member = args[args.index("--member") + 1]
        self.reason = args[args.index("--reason") + 1]
        self.failover_time = float(args[args.index("--failover-time") + 1]) if "--failover-time" in args else 0.0
        m = re.search(r"stuck lease\s+([\w-]+):", "\n".join(shown))
        self.holder = m.group(1) if m else "pg1"
        self.renewed = any("REFUSED: the lease was renewed during the watch" in ln for ln in shown)
        self.table = f"docs-break-glass-{index}"
        self.env = dict(env, PATRONI_DYNAMODB_TABLE_NAME=self.table)
        self.failures: List[str] = []
        r = run_cli(["table", "create", "--table", self.table], env)
        assert r.returncode == 0, r.stdout + r.stderr
        ttl = 30 if self.renewed else _STUCK_LEASE_S
        self.holder_dcs = _world_dcs(endpoint, local_dynamodb, self.table, self.cluster, self.holder, ttl)
        other = _world_dcs(endpoint, local_dynamodb, self.table, self.cluster, self.member, ttl)
        self.holder_dcs.touch_member(_member_data("primary"))
        other.touch_member(_member_data("replica"))
        assert self.holder_dcs.attempt_to_acquire_leader()
        self.before = _cluster_state(self.table, self.cluster, env)
        assert self.before["leader"]["state"] == "held" and self.before["leader"]["name"] == self.holder
        if "--yes" not in args:
            # docs/runbook-break-glass.md: without --yes it asks; anything but `yes` aborts, changing nothing.
            r = subprocess.run([dynatroni_cli(), *args], input="no\n", capture_output=True, text=True,
                               env=self.env, timeout=60)
            if r.returncode != 1 or "Type 'yes' to continue: Aborted: nothing was changed." not in r.stdout:
                self.failures.append(f"answered 'no': exit {r.returncode}, not the abort the runbook shows\n"
                                     f"{r.stdout[-600:]}{r.stderr[-600:]}")
            elif _lease(_cluster_state(self.table, self.cluster, env)) != _lease(self.before):
                self.failures.append("answered 'no': the leader item changed")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([dynatroni_cli(), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=self.env)
        self.proc.stdin.write("" if "--yes" in args else "yes\n")
        self.proc.stdin.close()
        self.out: List[str] = []
        self.err: List[str] = []
        watching = threading.Event()

        def read(stream, lines: List[str]) -> None:
            for line in stream:
                lines.append(line)
                if line.startswith("Watching leader for"):
                    watching.set()

        self.readers = [threading.Thread(target=read, args=(self.proc.stdout, self.out), daemon=True),
                        threading.Thread(target=read, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self.readers:
            t.start()
        self.renewer = None
        if self.renewed:
            def renew():  # the holder renews once the command watches
                if watching.wait(60):
                    time.sleep(1.2)
                    try:
                        assert self.holder_dcs._update_leader(self.holder_dcs.get_cluster().leader)
                    except Exception as e:  # noqa: BLE001  (reported by finish(); no full watch to wait out)
                        self.failures.append(f"the holder's renewal failed: {e!r}")
                        self.proc.kill()
            self.renewer = threading.Thread(target=renew, daemon=True)
            self.renewer.start()

    def finish(self) -> List[str]:
        self.proc.wait(timeout=120)
        took = time.monotonic() - self.started
        for t in self.readers:
            t.join(10)
        out, err = "".join(self.out), "".join(self.err)
        if self.renewer:
            self.renewer.join(10)
        where = f"{self.doc}: {self.cmd}"
        failures = [f"{where}: {f}" for f in self.failures]
        if self.proc.returncode != self.expected:
            return failures + [f"{where}: exit {self.proc.returncode}, the doc shows {self.expected}\n{out[-1500:]}"
                               f"{err[-800:]}"]
        verdicts = ("REFUSED:", "Its holder is alive", "Watching leader for", "Audit item", "Lease removed:",
                    "Failover key set:", "Done.", "Only do this when")
        for line in self.shown:
            if line.strip().startswith(verdicts) and not _shows_line(line, out):
                failures.append(f"{where}: the doc shows {line.strip()!r}; the run printed:\n{out[-1500:]}")
        after = _cluster_state(self.table, self.cluster, self.env)
        old = self.before["leader"]
        audits = after["break_glass_audits"]
        failover = after["keys"].get("failover")
        if self.expected == 0:
            lease_s = max(old["lease_ms"] / 1000, self.failover_time)
            if took < lease_s:
                failures.append(f"{where}: done after {took:.1f}s, before a full lease of {lease_s:.1f}s was watched")
            lead = after["leader"]
            if not (lead["state"] == "released" and lead["version"] == old["version"] + 1
                    and lead["term"] == old["term"]):
                failures.append(f"{where}: the lease is not a tombstone at version + 1 with the term kept: {lead}")
            if not failover or failover.get("value") != {"member": self.member}:
                failures.append(f"{where}: failover key {failover}, not {{'member': {self.member!r}}}")
            if len(audits) != 1 or not (audits[0].get("member") == self.member
                                        and audits[0].get("old_leader") == self.holder
                                        and audits[0].get("reason") == self.reason
                                        and str(audits[0].get("outcome", "")).startswith("done")
                                        and audits[0].get("new_term") == old["term"] + 1):
                failures.append(f"{where}: audit items {audits}")
        else:
            lead = after["leader"]
            if lead["state"] != "held" or lead["name"] != self.holder or audits or failover:
                failures.append(f"{where}: a refused run changed the table: leader {lead}, audits {audits}, "
                                f"failover {failover}")
            if self.renewed and lead["version"] != old["version"] + 1:
                failures.append(f"{where}: the holder's renewal did not land: {lead}")
        return failures


def test_every_dynatroni_command_in_the_docs_runs_against_moto(local_dynamodb, tmp_path):
    """Every `dynatroni ...` of docs/: run for real against moto, placeholders filled with the world's values.

    * in shell blocks: the exit code the doc shows; break-glass on a cluster whose stuck lease the test wrote
      (or renewed, when the doc shows that refusal), with the lines and the effect on the table the doc gives;
    * in the prose: a command with options runs (exit 0, or 1 only where a check fails on purpose); a bare
      command name must be a subcommand;
    * the synopsis at the top of docs/cli.md: every option it lists is one its subcommand parses.
    """
    endpoint = local_dynamodb["endpoints"]["moto"]
    env = cli_env(local_dynamodb, endpoint)
    cfg = _prepare_world(endpoint, local_dynamodb, tmp_path)
    runs = [r for r in shown_runs() if _tool_and_args(r[1])[0] == "dynatroni"]
    assert len(runs) >= 10, runs
    failures: List[str] = []

    def filled(doc: str, cmd: str) -> List[str]:
        _, args = _tool_and_args(cmd)
        args, unknown = _fill(args)
        if unknown:
            failures.append(f"{doc}: {cmd}: no value for the placeholder(s) {unknown} (_PLACEHOLDERS)")
        return [cfg.as_posix() if a.endswith("patroni.yml") else a for a in args]

    # break-glass first: each watches a full lease, so they run in the background while the rest runs (the
    # longest, with --failover-time, first).
    glass = []
    for doc, cmd, expected, shown in sorted(runs, key=lambda r: "--failover-time" not in r[1]):
        args = filled(doc, cmd)
        if args[:2] == ["break-glass", "promote"] and not {"--cluster", "--member", "--reason"} <= set(args):
            failures.append(f"{doc}: {cmd}: break-glass promote without --cluster, --member and --reason")
        elif args[:2] == ["break-glass", "promote"]:
            glass.append(_BreakGlassRun(len(glass), doc, cmd, expected, shown, args, endpoint, local_dynamodb, env))
    assert glass, "no break-glass run is shown"
    # `table create` first (as an operator would), then the clusters the examples read.
    runs.sort(key=lambda t: 0 if " table create" in t[1] else 1)
    ran, clusters_written = 0, False
    for doc, cmd, expected, shown in runs:
        args = filled(doc, cmd)
        if args[:1] == ["break-glass"]:
            continue
        if not clusters_written and args[:2] != ["table", "create"]:
            _write_clusters(endpoint, local_dynamodb)
            clusters_written = True
        if "--endpoint-url" in args:  # the doc's endpoint was a throw-away local server: moto, or dynalite
            no_ttl = any("does not support TTL" in ln for ln in shown)
            args[args.index("--endpoint-url") + 1] = local_dynamodb["endpoints"]["dynalite" if no_ttl else "moto"]
        if "--watch" in args and "--count" not in args:
            args += ["--count", "2"]
        r = run_cli(args, env, timeout=120)
        ran += 1
        if r.returncode != expected:
            failures.append(f"{doc}: {cmd}: exit {r.returncode}, the doc shows {expected}\n{r.stdout[-800:]}"
                            f"{r.stderr[-800:]}")
        elif args[:1] == ["cost"] and shown:  # no DynamoDB call, no clock: the doc shows exactly what it prints
            if shown != r.stdout.rstrip("\n").split("\n"):
                failures.append(f"{doc}: {cmd}: the doc shows\n" + "\n".join(shown) + f"\nthe run printed\n{r.stdout}")
        elif expected == 2 and shown:  # a usage error: the lines shown (up to "...") begin what it prints
            head = shown[:shown.index("...")] if "..." in shown else shown
            if head != r.stderr.split("\n")[:len(head)]:
                failures.append(f"{doc}: {cmd}: the doc shows\n" + "\n".join(head) + f"\nthe run printed\n{r.stderr}")
        elif args[:1] == ["table"] and [ln for ln in shown if ln.strip()]:
            verdict = [ln for ln in shown if ln.strip()][-1]
            if not _shows_line(verdict, r.stdout):
                failures.append(f"{doc}: {cmd}: the doc ends with {verdict!r}; the run printed\n{r.stdout[-800:]}")
            for ln in shown:
                if ln.strip().startswith(("WARNING", "PROBLEM")) and not _shows_line(ln, r.stdout):
                    failures.append(f"{doc}: {cmd}: the doc shows {ln.strip()!r}; the run printed\n{r.stdout}")
    assert ran >= 8, ran

    # The prose.
    subcommands = {" ".join(_subcommand(_tool_and_args(c)[1])) for _, c, _, _ in runs}
    for doc, cmd in inline_commands("dynatroni"):
        if cmd == "dynatroni":  # the command's name
            continue
        if "/" in cmd.split()[-1] and not cmd.split()[-1].startswith("/"):  # `dynatroni table create/check`
            cmd = cmd.rsplit(" ", 1)[0] + " " + cmd.split()[-1].split("/")[0]
        args = filled(doc, cmd)
        sub = _subcommand(args)
        if args == sub:  # a command's name
            problem = _probe_option(sub, [], env) if sub else "no subcommand"
            if problem:
                failures.append(f"{doc}: `{cmd}`: not a dynatroni subcommand ({problem})")
            continue
        if args[:1] == ["break-glass"]:
            failures.append(f"{doc}: `{cmd}`: show a break-glass run in a block, with its output and exit code")
            continue
        if "--endpoint-url" in args:
            args[args.index("--endpoint-url") + 1] = endpoint
        if "--watch" in args and "--count" not in args:
            args += ["--count", "1"]
        r = run_cli(args, env, timeout=60)
        if r.returncode != 0:
            failures.append(f"{doc}: `{cmd}`: exit {r.returncode}\n{r.stdout[-600:]}{r.stderr[-600:]}")
        subcommands.add(" ".join(sub))

    # The synopsis of docs/cli.md.
    text = (DOCS / "cli.md").read_text()
    synopsis = re.search(r"^```\n(dynatroni .*?)^```", text, re.S | re.M)
    assert synopsis, "docs/cli.md: no synopsis block"
    for line in synopsis.group(1).splitlines():
        _, args = _tool_and_args(line.replace("[", " ").replace("]", " ").replace("|", " "))
        sub = _subcommand(args)
        if sub == ["help"]:  # dynatroni help [COMMAND] | --help | --version
            for extra in (["help"], ["help", "status"], ["--help"], ["--version"]):
                r = run_cli(extra, env, timeout=30)
                if r.returncode != 0 or not r.stdout.strip():
                    failures.append(f"cli.md synopsis: `dynatroni {' '.join(extra)}`: exit {r.returncode}")
            continue
        if _probe_option(sub, [], env):
            failures.append(f"cli.md synopsis: `dynatroni {' '.join(sub)}`: {_probe_option(sub, [], env)}")
        for i, option in enumerate(args):
            if option.startswith("--"):
                values = []  # the placeholders after it (NAME, RCU WCU, ...): its values, here "1"
                for a in args[i + 1:]:
                    if not re.fullmatch(r"[A-Z]+", a):
                        break
                    values.append("1")
                problem = _probe_option(sub, [option, *values], env)
                if problem:
                    failures.append(f"cli.md synopsis: `dynatroni {' '.join(sub)} {option}`: {problem}")

    for run in glass:
        failures += run.finish()
    assert not failures, "\n\n".join(failures)


# ------------------------------------------------------------------ configuration.md against the parser


@pytest.fixture
def clean_env(monkeypatch):
    """The process environment without anything the parser or the region/endpoint chains read."""
    for k in list(os.environ):
        if k.startswith(("PATRONI_DYNAMODB_", "AWS_", "DYNATRONI_")):
            monkeypatch.delenv(k)
    return monkeypatch


def known_keys() -> List[str]:
    """The keys the code accepts, from the parser's own unknown-key message (dcs/config.cc's table)."""
    from dynatroni import _core
    with pytest.raises(ValueError) as e:
        _core.parse_config({"zz_docs_probe": "x"})
    m = re.fullmatch(r"dynamodb\.zz_docs_probe: unknown setting \(known: ([^)]*)\)", str(e.value))
    assert m, f"the parser's unknown-key message changed shape: {e.value}"
    keys = [k.strip() for k in m.group(1).split(",")]
    assert {"table_name", "failover_time", "url"} <= set(keys), keys
    return keys


def _config_doc() -> str:
    return (DOCS / "configuration.md").read_text()


def _config_section(title: str) -> str:
    text = _config_doc()
    assert f"\n## {title}\n" in text, f"docs/configuration.md: no section {title!r}"
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def documented_keys() -> Dict[str, Tuple[str, str]]:
    """docs/configuration.md's key table: key -> (default cell, validation cell)."""
    rows = {}
    for line in _config_section("Keys").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        for key in re.findall(r"`(\w+)`", cells[0]):
            assert key not in rows, f"docs/configuration.md: {key} has two rows"
            rows[key] = (cells[1], cells[2])
    return rows


def test_configuration_md_documents_exactly_the_keys_the_code_accepts():
    documented = documented_keys()
    code = known_keys()
    assert set(documented) == set(code), \
        f"docs/configuration.md documents {sorted(documented)}; the code accepts {sorted(code)}: " \
        f"undocumented {sorted(set(code) - set(documented))}, not accepted {sorted(set(documented) - set(code))}"
    envs = {}
    for line in _config_section("Environment variables").splitlines():
        m = re.fullmatch(r"\| `(\w+)` \| `(\w+)` \|", line.strip())
        if m:
            envs[m.group(1)] = m.group(2)
    assert envs == {f"PATRONI_DYNAMODB_{k.upper()}": k for k in code}, \
        f"docs/configuration.md's variable table: {envs}"


def _same(documented: str, value) -> bool:
    if isinstance(value, float):
        try:
            return float(documented) == value
        except ValueError:
            return False
    return documented == str(value)


def test_configuration_md_defaults_are_what_the_parser_gives(clean_env):
    """A section with no keys and a clean environment: each key's value is the default the doc gives (a literal
    `value`), or empty where the doc names where the value comes from instead (a chain, the system CA store)."""
    from dynatroni import _core
    parsed = _core.parse_config({})
    wrong = []
    for key, (default, _) in documented_keys().items():
        literal = re.fullmatch(r"`([^`]*)`", default)
        if literal:
            if key not in parsed:
                wrong.append(f"{key}: documented default {default}, but _core.parse_config does not return the key")
            elif not _same(literal.group(1), parsed[key]):
                wrong.append(f"{key}: documented default {default}, the parser gives {parsed[key]!r}")
        elif key in parsed and parsed[key] not in ("", None):
            wrong.append(f"{key}: documented default {default!r}, the parser gives {parsed[key]!r}")
    assert not wrong, "\n".join(wrong)


def test_configuration_md_validation_column_is_what_the_parser_enforces(clean_env, tmp_path):
    """The limits the validation column states, at their edges: each value just inside is accepted and each just
    outside is refused naming the key."""
    from dynatroni import _core

    def accepted(key: str, value: str, **extra: str) -> bool:
        try:
            _core.parse_config({key: value, **extra})
            return True
        except ValueError as e:
            assert key in str(e) or any(k in str(e) for k in extra), f"{key}={value!r}: the error names no key: {e}"
            return False

    readable = tmp_path / "ca.pem"
    readable.write_text("")
    checked, wrong = 0, []
    for key, (_, rule) in documented_keys().items():
        cases: List[Tuple[str, bool, Dict[str, str]]] = []
        m = re.search(r"≤ (\d+)\b(?! characters)", rule)
        if m:
            cases += [(m.group(1), True, {}), (str(int(m.group(1)) + 1), False, {})]
        if "positive number" in rule:
            cases += [("-1", False, {}), ("0", "`0` (off)" in rule, {})]
        m = re.search(r"then ≥ (\d+)", rule)
        if m:
            cases += [(m.group(1), True, {}), (str(int(m.group(1)) - 0.5), False, {})]
        m = re.search(r"(\d+)–(\d+) characters", rule)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            cases += [("a" * lo, True, {}), ("a" * (lo - 1), False, {}), ("a" * hi, True, {}),
                      ("a" * (hi + 1), False, {}), ("a" * lo + "!", False, {})]
        if "both or neither" in rule:
            cases += [("x", False, {})]
            for other in re.findall(r"`(\w+)`", [c for c in _config_section("Keys").splitlines()
                                                 if f"`{key}`" in c][0].split("|")[1]):
                if other != key:
                    cases += [("x", True, {other: "y"})]
        if "`http://` or `https://" in rule:
            cases += [("http://127.0.0.1:8000", True, {}), ("https://dynamodb.example", True, {}),
                      ("ftp://x", False, {})]
        if "a readable file" in rule:
            cases += [(str(readable), True, {}), (str(tmp_path / "missing.pem"), False, {})]
        if "every parameter must be one of the keys above" in rule:
            cases += [("dynamodb://docs-table?region=eu-west-1", True, {}),
                      ("dynamodb://docs-table?zz_docs_probe=1", False, {})]
        for value, ok, extra in cases:
            checked += 1
            if accepted(key, value, **extra) != ok:
                wrong.append(f"{key}={value[:20]!r}{' with ' + str(extra) if extra else ''}: docs/configuration.md "
                             f"says {'accepted' if ok else 'refused'} ({rule[:80]})")
    # The Region is checked when the client is made (startup): through the plugin's Dcs, on an endpoint that refuses.
    rule = documented_keys().get("region", ("", ""))[1]
    if "is not a valid AWS region name" in rule:
        m = re.search(r"≤ (\d+) characters", rule)
        longest = int(m.group(1)) if m else 63
        for region, ok in (("eu-west-1", True), ("a" * longest, True), ("a" * (longest + 1), False),
                           ("EU_West", False)):
            checked += 1
            try:
                with _FakeDynamoDB() as fake:
                    _core.Dcs({"region": region, "endpoint_url": fake.url, "access_key_id": "A",
                               "secret_access_key": "s"}, "docs", "n")
                took = True
            except ValueError as e:
                took = False
                assert "is not a valid AWS region name" in str(e), e
            if took != ok:
                wrong.append(f"region={region[:20]!r}: docs/configuration.md says {'accepted' if ok else 'refused'}")
    if "`DYNATRONI_SKIP_CA_CHECK`" in documented_keys().get("ca_bundle", ("", ""))[1]:
        clean_env.setenv("DYNATRONI_SKIP_CA_CHECK", "1")
        checked += 1
        if not accepted("ca_bundle", str(tmp_path / "missing.pem")):
            wrong.append("ca_bundle: an unreadable file is refused although DYNATRONI_SKIP_CA_CHECK is set")
    assert checked >= 25, checked
    assert not wrong, "\n".join(wrong)


def test_configuration_md_environment_variables_are_read_and_layered_as_documented(clean_env):
    """Every PATRONI_DYNAMODB_<KEY> changes what the parser gives (or what it refuses); the precedence list holds
    for a key given by each source; an empty variable is ignored; the url's decoding is as stated."""
    from dynatroni import _core

    def parsed(section: Dict[str, str]):
        try:
            return _core.parse_config(section)
        except ValueError as e:
            return f"refused: {e}"

    baseline = parsed({})
    unread = []
    for key in known_keys():
        var = f"PATRONI_DYNAMODB_{key.upper()}"
        clean_env.setenv(var, "zz:docs/probe")
        if parsed({}) == baseline:
            if key != "session_token":  # no output and no validation of its own: checked through the client below
                unread.append(var)
        clean_env.delenv(var)
    assert not unread, f"setting {unread} changes nothing the parser gives"
    # session_token: the client signs with it (X-Amz-Security-Token), from the variable as from the section.
    clean_env.setenv("PATRONI_DYNAMODB_SESSION_TOKEN", "zz-docs-token")
    with _FakeDynamoDB() as fake:
        _core.Dcs({"table_name": "docs-table", "region": REGION, "endpoint_url": fake.url, "access_key_id": "AKIDDOCS",
                   "secret_access_key": "s"}, "p", "n")
        assert fake.headers and fake.headers[0].get("x-amz-security-token") == "zz-docs-token", fake.headers[:1]
    clean_env.delenv("PATRONI_DYNAMODB_SESSION_TOKEN")

    # Precedence, lowest first, as the numbered list states it.
    steps = re.findall(r"^\d+\. (.*)$", _config_section("Environment variables"), re.M)
    sources = []
    for step in steps:
        if step.startswith("the `url` key"):
            sources.append("url")
        elif "other keys of the `dynamodb:` section" in step:
            sources.append("section")
        elif "`PATRONI_DYNAMODB_<KEY>`" in step:
            sources.append("env")
    assert len(sources) == len(steps) == 3, steps

    def layered(present: List[str]) -> str:
        section = {}
        if "url" in present:
            section["url"] = "dynamodb://from-url"
        if "section" in present:
            section["table_name"] = "from-section"
        if "env" in present:
            clean_env.setenv("PATRONI_DYNAMODB_TABLE_NAME", "from-env")
        else:
            clean_env.delenv("PATRONI_DYNAMODB_TABLE_NAME", raising=False)
        return _core.parse_config(section)["table_name"]

    for i in range(len(sources)):
        assert layered(sources[:i + 1]) == f"from-{sources[i]}", (sources, i)
    clean_env.setenv("PATRONI_DYNAMODB_TABLE_NAME", "")
    assert _core.parse_config({"table_name": "from-section"})["table_name"] == "from-section", \
        "an empty variable is ignored"
    clean_env.delenv("PATRONI_DYNAMODB_TABLE_NAME")
    # "or, when the section has no url, PATRONI_DYNAMODB_URL"
    clean_env.setenv("PATRONI_DYNAMODB_URL", "dynamodb://from-env-url")
    assert _core.parse_config({})["table_name"] == "from-env-url"
    assert _core.parse_config({"url": "dynamodb://from-url"})["table_name"] == "from-url"
    clean_env.delenv("PATRONI_DYNAMODB_URL")
    # The URL: path percent-decoded, trailing / dropped, empty keeps the default; query percent-decoded, + a space.
    text = _config_section("Environment variables")
    assert "(percent-decoded; a trailing `/` is dropped; it may be empty to keep the default)" in text
    assert "(percent-decoded; `+` is a space)" in text
    got = _core.parse_config({"url": "dynamodb://my%2Dtable/?profile=a+b%21&failover_time=30"})
    assert (got["table_name"], got["profile"], got["failover_time"]) == ("my-table", "a b!", 30.0), got
    assert _core.parse_config({"url": "dynamodb://?region=eu-west-1"})["table_name"] == \
        _core.parse_config({})["table_name"]
    # The example of the section.
    example = re.search(r"PATRONI_DYNAMODB_URL='([^']+)'", text).group(1)
    got = _core.parse_config({"url": example})
    assert got["table_name"] == "patroni" and got["region"] == "eu-west-1" and got["failover_time"] == 30.0, got


def test_configuration_md_region_endpoint_and_profile_defaults_are_the_clients(local_dynamodb, tmp_path):
    """The chains the default column gives for `region` and `endpoint_url` (the AWS_* variables, in order, then
    the profile's region) and for `profile` (AWS_PROFILE): `dynatroni doctor`, which resolves them as the plugin
    does, names the value and its source. For each link: that link and every later one set, the link wins."""
    from concurrent.futures import ThreadPoolExecutor
    keys = documented_keys()
    moto = local_dynamodb["endpoints"]["moto"]
    dead = f"http://127.0.0.1:{_closed_port()}"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PATRONI_"))}
    creds = local_dynamodb["env"]
    base.update(AWS_ACCESS_KEY_ID=creds["AWS_ACCESS_KEY_ID"], AWS_SECRET_ACCESS_KEY=creds["AWS_SECRET_ACCESS_KEY"],
                HOME="/nonexistent", AWS_CONFIG_FILE=str(tmp_path / "config"))
    (tmp_path / "config").write_text("[default]\nregion = ap-south-1\n[profile docs]\nregion = sa-east-1\n")
    runs = []  # (what, environment, check, expected start of its detail, expected source)
    regions = ["eu-west-1", "eu-west-2", "eu-west-3"]
    chain = re.findall(r"`(AWS_[A-Z_]+)`", keys["region"][0])
    assert len(chain) >= 2, keys["region"][0]
    for i, var in enumerate(chain):
        env = dict(base, AWS_ENDPOINT_URL_DYNAMODB=moto, **{v: regions[j] for j, v in enumerate(chain) if j >= i})
        runs.append((f"region from {var}", env, "region", regions[i], var))
    if "the profile's `region`" in keys["region"][0]:
        runs.append(("region from the profile", dict(base, AWS_ENDPOINT_URL_DYNAMODB=moto), "region", "ap-south-1",
                     "profile"))
    chain = re.findall(r"`(AWS_[A-Z_]+)`", keys["endpoint_url"][0])
    assert len(chain) >= 2, keys["endpoint_url"][0]
    for i, var in enumerate(chain):
        env = dict(base, AWS_REGION=REGION, **{v: moto if j == i else dead for j, v in enumerate(chain) if j >= i})
        runs.append((f"endpoint from {var}", env, "endpoint", moto, var))
    m = re.fullmatch(r"`(AWS_PROFILE)`, else `(\w+)`", keys["profile"][0])
    assert m, f"docs/configuration.md: profile's default {keys['profile'][0]!r}"
    assert m.group(2) == "default"  # the config file's [default] below
    runs.append(("profile from AWS_PROFILE", dict(base, AWS_ENDPOINT_URL_DYNAMODB=moto, AWS_PROFILE="docs"), "region",
                 "sa-east-1", "profile"))
    runs.append((f"profile {m.group(2)}", dict(base, AWS_ENDPOINT_URL_DYNAMODB=moto), "region", "ap-south-1",
                 "profile"))

    def doctor(run) -> str:
        what, env, check, value, source = run
        r = run_cli(["doctor", "--json"], env)
        found = [c for c in json.loads(r.stdout)["checks"] if c["check"] == check]
        if not found or not found[0]["detail"].startswith(value) or source not in found[0]["detail"]:
            return f"{what}: doctor says {found}, not {value} from {source}"
        return ""

    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        wrong = [w for w in pool.map(doctor, runs) if w]
    assert not wrong, "\n".join(wrong)


def test_configuration_md_error_lines_are_the_parsers(clean_env):
    """The startup error lines the doc shows are the parser's messages (the plugin logs `dynamodb: <message>`),
    the patroni --validate-config line quotes the same message, and the names Patroni copies into the section are
    the ones the plugin removes before parsing."""
    from dynatroni import _core, dynamodb
    text = _config_doc()
    shown = re.findall(r"^    ERROR: dynamodb: (.*)$", text, re.M)
    assert len(shown) >= 5, shown
    messages = {}
    for section in ({"bogus": "x"}, {"failover_time": "3"}, {"table_name": "a"}, {"access_key_id": "A"},
                    {"endpoint_url": "ftp://x"}, {"url": "dynamo://x"}):
        with pytest.raises(ValueError) as e:
            _core.parse_config(section)
        messages[str(e.value)] = section
    for line in shown:
        assert line in messages, f"docs/configuration.md shows {line!r}; the parser says one of {list(messages)}"
    m = re.search(r"^    dynamodb (\{.*\}) didn't pass validation: (.*)$", text, re.M)
    assert m, "docs/configuration.md: no patroni --validate-config line"
    import ast
    from dynatroni.patroni_hook import validate_section
    import patroni.validator
    with pytest.raises(patroni.validator.ConfigParseError) as e:
        validate_section(ast.literal_eval(m.group(1)))
    assert m.group(2) in str(e.value), (m.group(2), str(e.value))
    names = re.search(r"Names that Patroni copies into the section itself — (.*?) — are deliberately", text, re.S)
    assert names, "docs/configuration.md: the sentence naming what Patroni copies into the section"
    plain, _, citus = names.group(1).partition("(and with Patroni 3.0.x the `citus` keys")
    assert set(re.findall(r"`(\w+)`", plain)) == set(dynamodb._PATRONI_KEYS), plain
    assert set(re.findall(r"`(\w+)`", citus)) == set(dynamodb._CITUS_KEYS), citus



# ------------------------------------------------------------------ errors.md against the client


class _FakeDynamoDB:
    """A DynamoDB endpoint on loopback whose answers the test scripts, per table (the request's TableName):
    DescribeTable describes a correct table; every other request gets `answers[table]`, one of
    ("reply", status, headers, body) or ("reset",) (the request is read, then the connection reset). It records
    each request's (table, operation) and headers."""

    def __init__(self) -> None:
        import http.server
        import socket
        import struct
        fake = self
        self.answers: Dict[str, Tuple] = {}
        self.requests: List[Tuple[str, str]] = []
        self.headers: List[Dict[str, str]] = []
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                op = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
                table = json.loads(body or b"{}").get("TableName", "")
                with fake.lock:
                    fake.requests.append((table, op))
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                if op == "DescribeTable":
                    answer = ("reply", 200, {}, json.dumps({"Table": {
                        "TableName": table, "TableStatus": "ACTIVE", "ItemCount": 0, "TableSizeBytes": 0,
                        "KeySchema": [{"AttributeName": "cluster_name", "KeyType": "HASH"},
                                      {"AttributeName": "key", "KeyType": "RANGE"}],
                        "AttributeDefinitions": [{"AttributeName": "cluster_name", "AttributeType": "S"},
                                                 {"AttributeName": "key", "AttributeType": "S"}],
                        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"}}}))
                else:
                    answer = fake.answers.get(table, ("reply", 200, {}, "{}"))
                if answer[0] == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                _, status, headers, text = answer
                data = text.encode()
                self.send_response_only(status)
                headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "ZZDOCS",
                           "Date": self.date_time_string(), **headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def count(self, table: str, op: str) -> int:
        with self.lock:
            return sum(1 for t, o in self.requests if t == table and o == op)

    def __enter__(self) -> "_FakeDynamoDB":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _dynamodb_error(typ: str, message: str = "zz docs message") -> Tuple:
    """DynamoDB's error answer for the error type `typ`, with the HTTP status the service sends it with
    (tools/fault_proxy.py's copies of its replies; 400 for the rest)."""
    from tools import fault_proxy
    status = next((s for s, t, _ in fault_proxy.ERRORS.values() if t.rpartition("#")[2] == typ), 400)
    return ("reply", status, {}, json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{typ}",
                                             "message": message}))


def _errors_doc() -> str:
    return (DOCS / "errors.md").read_text()


def errors_md_codes() -> Dict[str, Tuple[str, str]]:
    """docs/errors.md's code table: code -> (used when, retried by the client?)."""
    rows = {}
    for line in _errors_doc().split("## Codes", 1)[1].split("\n## ", 1)[0].splitlines():
        m = re.match(r"\| `(k\w+)` \| (.*?) \| (.*?) \| (.*?) \|$", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3))
    assert len(rows) >= 8, rows
    return rows


# Backticked CamelCase words of the code table that are not DynamoDB error types.
_NOT_ERROR_TYPES = {"UnprocessedItems", "WaitUntilActive"}


def _retry_bullet(start: str) -> str:
    policy = _errors_doc().split("## Retry policy", 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"\n- ", "\n" + policy)
    found = [b for b in bullets if b.startswith(start)]
    assert len(found) == 1, f"docs/errors.md's retry policy: no bullet starting {start!r}"
    return " ".join(found[0].split())


class _Case:
    """One answer DynamoDB may give, a call that meets it, and what docs/errors.md says the client makes of it."""

    def __init__(self, what: str, answer: Tuple, call: str, code: str, attempts: str, retry_timeout: float = 1.5,
                 message: str = "", endpoint: str = ""):
        self.what, self.answer, self.call, self.code, self.attempts = what, answer, call, code, attempts
        self.retry_timeout, self.message, self.endpoint = retry_timeout, message, endpoint

    def run(self, fake: _FakeDynamoDB, index: int) -> str:
        from dynatroni import _core
        table = f"docs-errors-{index}"
        fake.answers[table] = self.answer
        dcs = _core.Dcs({"table_name": table, "region": REGION, "endpoint_url": self.endpoint or fake.url,
                         "access_key_id": "AKIDDOCS", "secret_access_key": "s"}, "docs", "n")
        dcs.set_timing(30.0, 10.0, self.retry_timeout)
        op = "GetItem" if self.call == "read" else "UpdateItem"
        try:
            if self.call == "read":
                dcs.poll_leader("leader", None)
            else:
                dcs.touch_member("members/n", '{"state":"running"}')
            return f"{self.what} ({self.call}): no error; docs/errors.md says {self.code}"
        except _core.StoreError as e:
            sent = fake.count(table, op) if not self.endpoint else e.attempts
            problems = []
            if "k" + e.code != self.code:
                problems.append(f"k{e.code}, not {self.code}")
            if not re.fullmatch(self.attempts.replace(">=2", r"([2-9]|\d\d+)"), str(sent)):
                problems.append(f"{sent} attempt(s), not {self.attempts}")
            if self.message and self.message not in e.message:
                problems.append(f"message {e.message!r} lacks {self.message!r}")
            return f"{self.what} ({self.call}): " + "; ".join(problems) if problems else ""


def errors_md_cases() -> List[_Case]:
    """The cases docs/errors.md's code table and retry policy describe, each with what they say of it."""
    codes = errors_md_codes()

    def attempts_for(code: str, case: str = "") -> str:
        """What the row's "Retried" cell says of `case` (words of its "Used when" cell): "1", ">=2" or "0"."""
        r = codes[code][1].strip()
        m = re.fullmatch(r"yes for (.*); no for the others", r)
        if m:
            return ">=2" if case and case in m.group(1) else "1"
        # "once after a clock-skew correction; ...": once only after something that does not happen here (the
        # endpoint's clock agrees, the static credentials never change), so one attempt.
        found = "1" if r == "no" else ">=2" if r.startswith("yes") else \
            "1" if r.startswith("once") and "clock-skew correction" in r else "0" if r == "—" else None
        assert found is not None, f"docs/errors.md: {code}: unknown answer in the Retried column: {r!r}"
        return found

    attempts = {code: attempts_for(code) for code in codes}
    cases: List[_Case] = []
    # Every DynamoDB error type named in the table: both calls, the row's code, retried as the row says.
    for code, (used, _) in codes.items():
        for typ in re.findall(r"`([A-Z][A-Za-z]+)`", used):
            if typ in _NOT_ERROR_TYPES:
                continue
            for call in ("read", "write"):
                cases.append(_Case(typ, _dynamodb_error(typ), call, code, attempts[code]))

    def row_says(code: str, phrase: str) -> bool:
        return phrase in codes.get(code, ("", ""))[0]

    def where(phrase: str) -> str:
        found = [c for c, (used, _) in codes.items() if phrase in used]
        assert len(found) == 1, f"docs/errors.md: {phrase!r} is in the rows {found}, not in one"
        return found[0]

    # The situations without an error type, each in the row that names it.
    c = where("a 403 without details")
    cases.append(_Case("HTTP 403, no body", ("reply", 403, {}, ""), "read", c, attempts[c]))
    c = where("a 4xx with an unreadable body")
    cases.append(_Case("HTTP 400, unreadable body", ("reply", 400, {}, "<html>bad</html>"), "read", c,
                       attempts_for(c, "a 4xx with an unreadable body")))
    c = where("unknown attribute types")
    cases.append(_Case("an unknown attribute type", ("reply", 200, {}, json.dumps({"Item": {
        "cluster_name": {"S": "docs"}, "key": {"S": "leader"}, "value": {"M": {"x": {"Q": "1"}}}}})),
        "read", c, attempts_for(c, "unknown attribute types"), message='unknown attribute type "Q"'))
    c = where("x-amz-crc32")
    cases.append(_Case("an x-amz-crc32 mismatch", ("reply", 200, {"x-amz-crc32": "1"}, "{}"), "read", c,
                       attempts_for(c, "x-amz-crc32")))
    c = where("a read kept getting unparsable bodies")
    cases.append(_Case("an unparsable 2xx body", ("reply", 200, {}, "{\"Item\": {"), "read", c,
                       attempts_for(c, "unparsable bodies")))
    c = where("damaged/unparsable 2xx body")
    cases.append(_Case("an unparsable 2xx body", ("reply", 200, {}, "{\"Attributes\": {"), "write", c,
                       attempts[c]))
    assert row_says(c, "5xx") and row_says(c, "timeout after sending")
    cases.append(_Case("HTTP 502 from a proxy", ("reply", 502, {}, "<html>Bad Gateway</html>"), "write", c,
                       attempts[c]))
    cases.append(_Case("a reset after the request was sent", ("reset",), "write", c, attempts[c]))
    c = where("network errors")
    assert row_says(c, "5xx") and row_says(c, "never sent")
    cases.append(_Case("HTTP 502 from a proxy", ("reply", 502, {}, "<html>Bad Gateway</html>"), "read", c,
                       attempts[c]))
    cases.append(_Case("a reset after the request was sent", ("reset",), "read", c, attempts[c]))
    closed = f"http://127.0.0.1:{_closed_port()}"
    cases.append(_Case("connection refused (never sent)", ("reset",), "write", c, attempts[c], endpoint=closed))
    c = where("before anything was sent")
    cases.append(_Case("a deadline of 20 ms", _dynamodb_error("InternalServerError"), "read", c, attempts[c],
                       retry_timeout=0.02))
    m = re.search(r"An unrecognised 4xx `__type` maps to `(k\w+)` with DynamoDB's message", _errors_doc())
    assert m, "docs/errors.md: the sentence on unrecognised 4xx types"
    cases.append(_Case("an unrecognised 4xx type", _dynamodb_error("ZzDocsUnknownException", "zz docs says no"),
                       "read", m.group(1), "1", message="zz docs says no"))

    # The retry policy: what it retries. Throttling leaves a write definitely not applied (kUnavailable); a 5xx
    # leaves it unknown (the code table's rows for them).
    bullet = _retry_bullet("Retried:")
    throttles = re.search(r"throttling \((.*?)\)", bullet)
    assert throttles, bullet
    unavailable, unknown = where("only throttled"), where("5xx, damaged")
    for typ in re.findall(r"`(\w+)`", throttles.group(1)):
        cases.append(_Case(typ, _dynamodb_error(typ), "read", unavailable, ">=2"))
        cases.append(_Case(typ, _dynamodb_error(typ), "write", unavailable, ">=2"))
    rest = bullet[throttles.end():]
    for typ in re.findall(r"`([A-Z]\w+)`", rest.split("transport", 1)[0]):
        cases.append(_Case(typ, _dynamodb_error(typ), "read", unavailable, ">=2"))
        if re.search(rf"5xx and[^,]*`{typ}`", rest):
            cases.append(_Case(typ, _dynamodb_error(typ), "write", unknown, ">=2"))
    # "at most `max_attempts` (N) attempts in total", with a deadline that leaves room for more.
    m = re.search(r"at most `max_attempts` \((\d+)\) attempts in total", _errors_doc())
    assert m, "docs/errors.md: max_attempts"
    cases.append(_Case(f"max_attempts ({m.group(1)})", _dynamodb_error("InternalServerError"), "read",
                       unavailable, m.group(1), retry_timeout=20))
    # "no attempt starts with less than `min_attempt_time` (N ms) left"
    m = re.search(r"no attempt starts with less than\s+`min_attempt_time` \((\d+) ms\) left", _errors_doc())
    assert m, "docs/errors.md: min_attempt_time"
    floor = int(m.group(1)) / 1000
    cases.append(_Case(f"a deadline just under min_attempt_time", _dynamodb_error("InternalServerError"), "read",
                       where("before anything was sent"), "0", retry_timeout=floor * 0.9))
    cases.append(_Case(f"a deadline just over min_attempt_time", _dynamodb_error("InternalServerError"), "read",
                       unavailable, r"[1-9]", retry_timeout=floor * 1.5))
    return cases


def _closed_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_errors_md_is_how_the_client_classifies_each_answer(clean_env):
    """Each DynamoDB error type and each other answer docs/errors.md names, given by a scripted endpoint to the
    real client (through the plugin's Dcs: a consistent GetItem as the read, a member UpdateItem as the write):
    the Status code the row gives, retried as its "Retried" column says (counted at the endpoint)."""
    from concurrent.futures import ThreadPoolExecutor
    cases = errors_md_cases()
    assert len(cases) >= 40, len(cases)
    with _FakeDynamoDB() as fake, ThreadPoolExecutor(max_workers=len(cases)) as pool:
        problems = [p for p in pool.map(lambda ic: ic[1].run(fake, ic[0]), enumerate(cases)) if p]
    assert not problems, "docs/errors.md differs from the client:\n" + "\n".join(problems)


def test_errors_md_clock_skew_retry_is_the_clients(clean_env):
    """"A signature/skew error (...) whose `Date` header shows our clock is off by more than N s ... is retried once
    at once": each type named there, with a Date an hour off: two attempts; with one N/2 s off: one."""
    from concurrent.futures import ThreadPoolExecutor
    import email.utils
    bullet = _retry_bullet("Credentials are resolved again")
    m = re.search(r"A signature/skew error \((.*?)\) whose `Date` header shows our clock is off by more than (\d+) s",
                  bullet)
    assert m, bullet
    limit = int(m.group(2))
    denied = [c for c, (_, r) in errors_md_codes().items() if "clock-skew correction" in r]
    assert len(denied) == 1, "docs/errors.md: which code's row is retried after a clock-skew correction?"
    denied = denied[0]
    cases = []
    for typ in re.findall(r"`(\w+)`", m.group(1)):
        for offset, sent in ((3600, "2"), (limit * 2, "2"), (limit / 2, "1")):
            date = email.utils.formatdate(time.time() + offset, usegmt=True)
            answer = _dynamodb_error(typ)
            cases.append(_Case(f"{typ}, Date {offset:+.0f} s", (*answer[:2], {"Date": date}, answer[3]), "read",
                               denied, sent))
    assert len(cases) >= 4, cases
    with _FakeDynamoDB() as fake, ThreadPoolExecutor(max_workers=len(cases)) as pool:
        problems = [p for p in pool.map(lambda ic: ic[1].run(fake, 1000 + ic[0]), enumerate(cases)) if p]
    assert not problems, "\n".join(problems)


EARLIER_DEFAULTS = {"table_name": "softoboros-patroni", "region": "ca-central-1", "failover_time": "60"}


def test_migration_md_pins_the_earlier_defaults():
    """The earlier module's defaults as docs/migration.md states them, its pin block, and doctor's fix text agree."""
    text = (DOCS / "migration.md").read_text()
    intro = text[:text.index("## Pin the earlier defaults")]
    for key, value in EARLIER_DEFAULTS.items():
        assert f"`{key}: {value}`" in intro, f"docs/migration.md's introduction does not give the default {key}"
    section = text[text.index("## Pin the earlier defaults"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "docs/migration.md: no yaml block pinning the defaults"
    import yaml
    assert {k: str(v) for k, v in yaml.safe_load(block.group(1))["dynamodb"].items()} == EARLIER_DEFAULTS
    doctor = (REPO / "cli/doctor.cc").read_text()
    assert f'kEarlierDefaultTable[] = "{EARLIER_DEFAULTS["table_name"]}"' in doctor
    assert f"region: {EARLIER_DEFAULTS['region']}, failover_time: {EARLIER_DEFAULTS['failover_time']}" in doctor


def test_migration_md_doctor_warning_is_what_doctor_prints(local_dynamodb):
    """The doctor run shown in docs/migration.md, against moto with a cluster still in the earlier default table:
    its WARN lines are exactly what `dynatroni doctor` prints."""
    text = (DOCS / "migration.md").read_text()
    m = re.search(r"^\$ (dynatroni doctor[^\n]*)\n(.*?)^\[exit (\d+)\]", text, re.S | re.M)
    assert m, "docs/migration.md shows no `dynatroni doctor` run"
    _, args = _tool_and_args(m.group(1))
    shown = [ln for ln in m.group(2).splitlines() if ln.startswith("WARN")]
    assert any(ln.startswith("WARN  migration ") for ln in shown), shown
    cluster = args[args.index("--cluster") + 1]
    endpoint = local_dynamodb["endpoints"]["moto"]
    env = cli_env(local_dynamodb, endpoint)
    c = boto(endpoint, local_dynamodb)
    table = re.search(r"; table (\S+) has none", "\n".join(shown)).group(1)
    r = run_cli(["table", "create", "--table", table], env)  # idempotent: the configured table exists, empty for it
    assert r.returncode == 0, r.stdout + r.stderr
    assert not c.query(TableName=table, KeyConditionExpression="cluster_name = :c",
                       ExpressionAttributeValues={":c": {"S": cluster}})["Items"]
    old = EARLIER_DEFAULTS["table_name"]
    c.create_table(TableName=old, BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=[{"AttributeName": "cluster_name", "AttributeType": "S"},
                                         {"AttributeName": "key", "AttributeType": "S"}],
                   KeySchema=[{"AttributeName": "cluster_name", "KeyType": "HASH"},
                              {"AttributeName": "key", "KeyType": "RANGE"}])
    try:
        c.get_waiter("table_exists").wait(TableName=old)
        count = int(re.search(r"holds (\d+) item\(s\)", "\n".join(shown)).group(1))
        keys = ["leader", "config", "initialize", "members/pg1", "members/pg2"][:count]
        for key in keys:  # as the earlier module wrote them: wall-clock microsecond versions, a UUID session, ttl
            c.put_item(TableName=old, Item={"cluster_name": {"S": cluster}, "key": {"S": key}, "value": {"S": "pg1"},
                                            "version": {"N": "1764120000000000"},
                                            "session": {"S": "0b5c4e55-0a5e-4f5e-9a39-2d1c8f1b6e01"},
                                            "ttl": {"N": "1764120060"}})
        r = run_cli(args, env)
        assert r.returncode == int(m.group(3)), r.stdout + r.stderr
        printed = [ln for ln in r.stdout.splitlines() if ln.startswith("WARN")]
        assert printed == shown, "docs/migration.md shows:\n" + "\n".join(shown) + "\ndoctor prints:\n" + \
            "\n".join(printed)
        summary = [ln for ln in m.group(2).splitlines() if ln.startswith("doctor: ")]
        assert summary == [ln for ln in r.stdout.splitlines() if ln.startswith("doctor: ")], r.stdout
    finally:
        c.delete_table(TableName=old)


# ------------------------------------------------------------------ links, index, systemd, version


def test_docs_index_links_every_page_and_every_relative_link_resolves():
    index = (DOCS / "README.md").read_text()
    for required in ("design", "errors", "cli", "runbook-break-glass", "benchmarks", "reliability", "install",
                     "quickstart", "configuration", "dynamodb-setup", "iam", "multi-az-and-cold-start",
                     "operations", "migration"):
        assert f"({required}.md)" in index, f"docs/README.md does not link {required}.md"
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"
    broken = []
    for md in [*DOCS.glob("*.md"), REPO / "CHANGELOG.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", md.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            if target.endswith(("benchmarks.md", "reliability.md")):  # written by other helpers, may lag
                continue
            if not (md.parent / target).exists():
                broken.append(f"{md.name}: {target}")
    assert not broken, broken


def _heading_anchors(md: Path) -> Set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation but "-" and "_" dropped, spaces to "-";
    a repeated heading gets "-1", "-2", ... Code blocks hold no headings."""
    text = re.sub(r"^```.*?^```", "", md.read_text(), flags=re.M | re.S)
    seen: Dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def test_every_link_to_a_heading_names_one_that_exists():
    """A link like (#section) or (page.md#section) in any tracked .md file points at a heading of that page."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "*.md"], capture_output=True, text=True, timeout=60)
    pages = [REPO / f for f in listed.stdout.split()] if listed.returncode == 0 else list(REPO.rglob("*.md"))
    pages = [md for md in pages if "node_modules" not in md.parts and md.exists()]
    broken, checked = [], 0
    for md in pages:
        text = re.sub(r"^```.*?^```", "", md.read_text(), flags=re.M | re.S)
        for target, fragment in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            page = (md.parent / target) if target else md
            if page.suffix == ".md" and page.exists():
                checked += 1
                if fragment not in _heading_anchors(page):
                    broken.append(f"{md.relative_to(REPO)}: ({target}#{fragment})")
    assert not broken, broken
    assert checked > 40, f"only {checked} links to headings found in {len(pages)} pages: is the pattern still right?"


def test_systemd_unit_is_valid(tmp_path):
    unit = DOCS / "systemd/patroni-dynamodb.service"
    text = unit.read_text()
    assert re.search(r"^ExecStart=/\S*/bin/patroni /etc/patroni/patroni.yml$", text, re.M), text
    assert "KillMode=process" in text and "User=postgres" in text
    analyze = shutil.which("systemd-analyze")
    if analyze:
        # verify needs the ExecStart binary to exist: point it at a stub in a copy of the unit.
        stub = tmp_path / "patroni"
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
        copy = tmp_path / "patroni-dynamodb.service"
        copy.write_text(re.sub(r"^ExecStart=\S+", f"ExecStart={stub}", text, flags=re.M))
        r = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
        problems = [ln for ln in (r.stdout + r.stderr).splitlines()
                    if "patroni-dynamodb.service" in ln and "Failed to" not in ln]
        assert r.returncode == 0 and not problems, r.stdout + r.stderr
    else:  # a parse check: sections and Key=value lines only
        section = None
        for ln in text.splitlines():
            if not ln.strip() or ln.startswith("#"):
                continue
            if re.fullmatch(r"\[(Unit|Service|Install)\]", ln):
                section = ln
                continue
            assert section and re.fullmatch(r"[A-Za-z]+=.*", ln), ln


def _unit_settings(text: str) -> Dict[str, str]:
    """Key -> value of a systemd unit's [Unit] and [Service] sections (a key set twice: the values joined)."""
    out: Dict[str, str] = {}
    section = None
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln or ln.startswith(("#", ";")):
            continue
        m = re.fullmatch(r"\[(\w+)\]", ln)
        if m:
            section = m.group(1)
            continue
        if section in ("Unit", "Service"):
            key, _, value = ln.partition("=")
            out[key.strip()] = (out[key.strip()] + " " if key.strip() in out else "") + value.strip()
    return out


# Process attributes that every process of the unit inherits: each PostgreSQL backend, not just Patroni.
_INHERITED_BY_POSTGRES = {"OOMScoreAdjust", "Nice", "CPUSchedulingPolicy", "CPUSchedulingPriority",
                          "IOSchedulingClass", "IOSchedulingPriority", "CPUAffinity"}
DEBIAN_PATRONI_UNIT = Path("/lib/systemd/system/patroni.service")


def _documented_unit_settings() -> Dict[str, Tuple[str, str, str]]:
    """docs/install.md's table after <!-- systemd-settings -->: setting -> (ours, Debian's, why)."""
    text = (DOCS / "install.md").read_text()
    m = re.search(r"<!-- systemd-settings -->\n\| setting \| ours \| Debian's `patroni.service` \| why ours differs \|\n"
                  r"\|[-|]+\|\n((?:\|.*\n)+)", text)
    assert m, "docs/install.md: no systemd settings table after <!-- systemd-settings -->"
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        assert len(cells) == 4, line

        def value(cell: str) -> str:
            return "" if cell.startswith("(not set") else re.fullmatch(r"`([^`]*)`", cell).group(1)

        rows[re.fullmatch(r"`(\w+)`", cells[0]).group(1)] = (value(cells[1]), value(cells[2]), cells[3])
    return rows


def test_systemd_unit_matches_its_documented_settings_and_debians_unit():
    ours = _unit_settings((DOCS / "systemd/patroni-dynamodb.service").read_text())
    doc = _documented_unit_settings()
    inherited = _INHERITED_BY_POSTGRES & set(ours)
    assert not inherited, f"{sorted(inherited)}: inherited by every PostgreSQL backend (docs/install.md, systemd)"
    described = {"Description", "Documentation"}
    for key, value in ours.items():
        if key not in described:
            assert key in doc, f"docs/install.md does not list the unit's setting {key}={value}"
    for key, (documented, _, _) in doc.items():
        assert ours.get(key, "") == documented, \
            f"{key}: the unit has {ours.get(key)!r}, docs/install.md says {documented!r}"
    for key, (mine, theirs, why) in doc.items():
        if mine != theirs:
            assert why, f"{key}: differs from Debian's patroni.service without a reason in docs/install.md"
    if not DEBIAN_PATRONI_UNIT.is_file():
        pytest.skip(f"{DEBIAN_PATRONI_UNIT} missing (Debian's patroni package, which `make deps` installs): "
                    "our unit was checked against the doc only")
    debian = _unit_settings(DEBIAN_PATRONI_UNIT.read_text())
    for key, value in debian.items():
        if key not in described:
            assert key in doc, f"docs/install.md does not list Debian's setting {key}={value}"
    for key, (_, documented, _) in doc.items():
        assert debian.get(key, "") == documented, \
            f"{key}: Debian's patroni.service has {debian.get(key)!r}, docs/install.md says {documented!r}"


def _installed_binaries() -> Dict[str, Path]:
    cli = SCRIPTS / "dynatroni"
    try:
        import dynatroni._core as core
    except ImportError:
        core = None
    found = {"command": cli, "core library": core.LIBRARY_PATH if core else None}
    missing = [k for k, v in found.items() if v is None or not v.is_file()]
    if missing:
        pytest.skip(f"not installed: {missing} (`make python-install` installs them; `make test` runs it first)")
    return found


def _dpkg_package(path: str) -> str:
    candidates = [path, os.path.realpath(path)]
    candidates += [("/usr" + c) if not c.startswith("/usr/") else c[4:] for c in list(candidates)]
    for c in candidates:
        r = subprocess.run(["dpkg-query", "-S", c], capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    raise AssertionError(f"no Debian package owns {path}")


def linked_packages() -> Dict[str, Dict[str, Set[str]]]:
    """Debian package -> {soname -> which binaries link it}, for the libraries the installed core library and the
    `dynatroni` command link directly (ELF NEEDED, resolved by ldd)."""
    readelf = shutil.which("readelf")
    assert readelf, "readelf missing (binutils, via build-essential: `make deps`)"
    out: Dict[str, Dict[str, Set[str]]] = {}
    for what, binary in _installed_binaries().items():
        dyn = subprocess.run([readelf, "-d", str(binary)], capture_output=True, text=True, timeout=60, check=True)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn.stdout)
        ldd = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=60, check=True).stdout
        paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
        paths.update({Path(p).name: p for p in re.findall(r"^\s*(/\S+) \(0x", ldd, re.M)})
        for lib in needed:
            assert lib in paths, f"{binary}: ldd does not resolve {lib}:\n{ldd}"
            out.setdefault(_dpkg_package(paths[lib]), {}).setdefault(lib, set()).add(what)
    return out


def test_install_md_names_the_runtime_packages_of_what_is_installed():
    linked = linked_packages()
    text = (DOCS / "install.md").read_text()
    m = re.search(r"^\| package \| libraries \| linked by \| pulled in by PostgreSQL 15 \|\n\|[-|]+\|\n((?:\|.*\n)+)",
                  text, re.M)
    assert m, "docs/install.md: no runtime package table"
    rows = {}
    for line in m.group(1).splitlines():
        pkg, libs, by, with_pg = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[pkg.strip("`")] = (set(re.findall(r"`([^`]+)`", libs)), {w.strip() for w in by.split(",")}, with_pg)
    assert set(rows) == set(linked), f"docs/install.md lists {sorted(rows)}; the binaries link {sorted(linked)}"
    for pkg, sonames in linked.items():
        assert rows[pkg][0] == set(sonames), f"{pkg}: docs/install.md lists {rows[pkg][0]}, linked: {set(sonames)}"
        for soname, by in sonames.items():
            assert rows[pkg][1] == by, f"{pkg} ({soname}): docs/install.md says linked by {rows[pkg][1]}, not {by}"
    apt_line = re.search(r"<!-- runtime-packages -->\n```\w*\napt-get install ([^\n]+)\n```", text)
    assert apt_line, "docs/install.md: no apt-get line after <!-- runtime-packages -->"
    not_with_pg = {p for p, (_, _, pg) in rows.items() if pg == "no"}
    assert set(apt_line.group(1).split()) == not_with_pg, apt_line.group(0)
    assert {pg for _, _, pg in rows.values()} <= {"yes", "no"}
    apt_cache = shutil.which("apt-cache")
    if not apt_cache:
        pytest.skip("apt-cache missing: the PostgreSQL column was not checked")
    r = subprocess.run([apt_cache, "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                        "--no-breaks", "--no-replaces", "--no-enhances", "postgresql-15"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    pulled = set(re.findall(r"^\s*(?:Pre)?Depends: (\S+)$", r.stdout, re.M))
    for pkg, (_, _, pg) in rows.items():
        assert (pkg in pulled) == (pg == "yes"), f"{pkg}: docs/install.md says {pg!r} for PostgreSQL 15"


BUILD_DEPS = REPO / "packaging" / "source" / "build-deps.txt"


def build_packages() -> List[str]:
    """packaging/source/build-deps.txt: the Debian 12 packages `pip install .` needs (one a line, # comments)."""
    lines = [ln.split("#", 1)[0].strip() for ln in BUILD_DEPS.read_text().splitlines()]
    return [ln for ln in lines if ln]


def test_install_md_build_dependencies_are_the_list_make_source_check_builds_with():
    """docs/install.md's build dependencies are exactly packaging/source/build-deps.txt, the one list: `make deps`
    installs it (the Makefile reads the file) and packaging/source/check.sh (`make source-check`) installs it alone,
    with python3-venv, into a fresh Debian 12 chroot and builds there with `pip install .`. python3-dev is in it
    exactly when the CMake build looks for Python's headers."""
    listed = build_packages()
    assert len(set(listed)) == len(listed), f"{BUILD_DEPS.name}: a package twice: {listed}"
    text = (DOCS / "install.md").read_text()
    m = re.search(r"<!-- build-packages -->\n```\w*\napt-get install ([^\n]+)\n```", text)
    assert m, "docs/install.md: no apt-get line after <!-- build-packages -->"
    documented = m.group(1).split()
    assert set(documented) == set(listed) and len(documented) == len(listed), \
        f"docs/install.md lists {documented}; {BUILD_DEPS.relative_to(REPO)} has {listed}: " \
        f"missing {sorted(set(listed) - set(documented))}, extra {sorted(set(documented) - set(listed))}"
    r = subprocess.run(["make", "-s", "--no-print-directory", "--eval", "print-apt-packages: ; @echo $(APT_PACKAGES)",
                        "print-apt-packages"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert set(listed) <= set(r.stdout.split()), f"make deps misses {sorted(set(listed) - set(r.stdout.split()))}"
    script = (REPO / "packaging" / "source" / "check.sh").read_text()
    assert "packaging/source/build-deps.txt" in script and '"${BUILD_DEPS[@]}" python3-venv' in script
    cmake = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(("build", "node_modules", ".", "dist"))]
        cmake += [(Path(root) / f).read_text() for f in files if f == "CMakeLists.txt" or f.endswith(".cmake")]
    assert len(cmake) > 5, "no CMake files found"
    headers = re.search(r"find_package\(\s*Python3?\b[^)]*\b(Development|Module)", "\n".join(cmake))
    assert ("python3-dev" in listed) == bool(headers), \
        "python3-dev belongs in the build dependencies exactly when CMake looks for Python's headers"


def test_version_lives_in_version_file_only():
    version = (REPO / "VERSION").read_text().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'metadata.version.input = "VERSION"' in pyproject
    assert not re.search(r'^version\s*=', pyproject, re.M)
    assert f"## [{version}]" in (REPO / "CHANGELOG.md").read_text()
    import dynatroni
    assert dynatroni.__version__ == version
    r = run_cli(["--version"], dict(os.environ))
    assert r.returncode == 0 and r.stdout.strip() == f"dynatroni {version}", r.stdout


def test_install_md_lists_what_the_wheel_adds_beside_its_package():
    """docs/install.md's table of files the wheel puts into site-packages outside `dynatroni/` is exactly what the
    installed distribution's RECORD holds there (bytecode aside), and each row quotes that file's statement."""
    import importlib.metadata
    text = (DOCS / "install.md").read_text()
    section = text.split("## How plain `patroni` finds the plugin", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([^`]+)` \| `([^`]+)`", section, re.M))
    dist = importlib.metadata.distribution("dynatroni")
    added = {str(f) for f in dist.files or [] if not str(f).startswith(("dynatroni/", "../"))
             and ".dist-info/" not in str(f) and "__pycache__" not in str(f)}
    assert set(rows) == added, f"docs/install.md lists {sorted(rows)}; the wheel installs {sorted(added)}"
    for name, statement in rows.items():
        content = dist.locate_file(name).read_text()
        assert statement in content, f"{name}: docs/install.md quotes {statement!r}; the file has {content!r}"


def test_project_scripts_point_at_main_functions():
    import importlib
    import tomllib
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"patroni-dynamodb", "patronictl-dynamodb"}
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), target


# ------------------------------------------------------------------ the lock (requirements-dev.lock)

LOCK = REPO / "requirements-dev.lock"


def _lock_pins() -> Dict[str, Tuple[str, List[str]]]:
    """normalised name -> (version, hashes) for every requirement in the lock; fails on any other kind of line."""
    from packaging.utils import canonicalize_name
    pins: Dict[str, Tuple[str, List[str]]] = {}
    text = re.sub(r"#[^\n]*", "", LOCK.read_text()).replace("\\\n", " ")
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)\s*", line)
        assert m, f"{LOCK.name}: not an ==-pinned requirement with --hash lines: {line.strip()!r}"
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"{LOCK.name}: {name} pinned twice"
        pins[name] = (m.group(2), re.findall(r"sha256:([0-9a-f]{64})", m.group(3)))
    return pins


def test_lock_pins_every_package_exactly_with_hashes():
    pins = _lock_pins()
    # the build backend, the test tools and the demo's Patroni are all in it (and so installed from it alone)
    for name in ("scikit-build-core", "pathspec", "pytest", "moto", "boto3", "botocore", "werkzeug",
                 "flask", "patroni", "psycopg", "python-etcd", "matplotlib", "cfn-lint", "python-hcl2"):
        assert name in pins, f"{name} is not in {LOCK.name}"
    head = LOCK.read_text().splitlines()[:8]
    assert any("make lock" in ln for ln in head), f"{LOCK.name} was not compiled by `make lock`: {head}"


def test_lock_satisfies_requirements_dev_and_pyproject():
    """Every range in requirements-dev.txt and pyproject.toml (build backend, test extra) holds the version the lock
    pins: editing a range without `make lock`, or a lock that left the tested range, fails here."""
    import tomllib
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    pins = _lock_pins()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    lines = [ln.split("#", 1)[0].strip() for ln in (REPO / "requirements-dev.txt").read_text().splitlines()]
    ranges = [ln for ln in lines if ln] + pyproject["build-system"]["requires"] + \
        pyproject["project"]["optional-dependencies"]["test"]
    for spec in ranges:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{spec}: {name} is not in {LOCK.name} (run `make lock`)"
        assert req.specifier.contains(pins[name][0], prereleases=True), \
            f"{spec}: {LOCK.name} pins {name}=={pins[name][0]} (run `make lock`)"
        assert req.specifier, f"{spec}: no version range"
    for spec in pyproject["build-system"]["requires"]:  # upper bounds: a new major/minor is tested before use
        assert "<" in str(Requirement(spec).specifier), f"pyproject.toml [build-system] {spec}: no upper bound"


def test_make_deps_installs_the_lock_and_make_lock_is_documented():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^LOCK := requirements-dev\.lock$", makefile, re.M)
    assert re.search(r"^\$\(VENV_STAMP\): \$\(LOCK\)", makefile, re.M), "the venv stamp must depend on the lock"
    assert "pip install --disable-pip-version-check --progress-bar off -q --require-hashes --no-deps -r $(LOCK)" \
        in makefile
    assert "lock" in _make_targets()
    r = subprocess.run(["make", "-n", "lock", "UPGRADE=all"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "pip-compile" in r.stdout and "--generate-hashes" in r.stdout and "--upgrade" in r.stdout
    assert "--output-file requirements-dev.lock requirements-dev.txt" in r.stdout
    for doc in (REPO / "README.md", DOCS / "install.md"):
        text = " ".join(doc.read_text().split())
        assert "requirements-dev.lock" in text and "`make lock`" in text, f"{doc.name} does not describe the lock"
    assert ("make", "lock") in {tuple(c.split()[:2]) for _, c, _ in shown_commands()}
    ci = (REPO / ".ci/run").read_text()
    assert re.search(r'^rm -rf "\$VENV"$', ci, re.M) and "PIP_NO_CACHE_DIR=1" in ci, \
        ".ci/run must build the virtualenv afresh from the lock"


def test_reliability_md_mutation_matrix_lists_every_mutant_the_test_runs():
    """docs/reliability.md's mutation matrix has one row per variant of dcs/lease_mutants.h, named as
    dcs/lease_mutation_test.cc names it (and the test runs every variant the header declares)."""
    root = Path(__file__).resolve().parents[2]
    header = (root / 'dcs' / 'lease_mutants.h').read_text()
    enum = re.search(r'enum class LeaseMutant \{(.*?)\};', header, re.S).group(1)
    declared = set(re.findall(r'^\s*(k[A-Za-z]+)', enum, re.M)) - {'kNone'}
    test = (root / 'dcs' / 'lease_mutation_test.cc').read_text()
    rows = re.findall(r'\{LeaseMutant::(k[A-Za-z]+),\s*"([^"]+)"', test)
    assert {m for m, _ in rows} == declared, 'the mutation test must run every declared variant'
    doc = (root / 'docs' / 'reliability.md').read_text()
    table = {line.split('|')[1].strip(): line for line in doc.splitlines()
             if line.startswith('| ') and line.count('|') == 5}
    for _, name in rows:
        assert name in table, f'docs/reliability.md: no mutation-matrix row for "{name}"'
        assert re.search(r'\|\s*\d+\s*\|\s*\d+\s*\|$', table[name]), f'row "{name}" lacks schedules and seed'


def test_reliability_md_long_run_is_a_million_schedules_without_violations():
    """The long run quoted in docs/reliability.md: each quoted command's output matches its arguments (schedule
    count, seed range), together they cover at least 1,000,000 schedules, none reported a violation, and the
    Commands table names exactly the quoted commands."""
    doc = (REPO / 'docs' / 'reliability.md').read_text()
    runs = re.findall(r'^\$ build/dcs/dynatroni_lease_sim (\d+) (\d+)\n'
                      r'schedules (\d+) \(seeds (\d+)\.\.(\d+),[^\n]*\n'
                      r'violations (\d+);', doc, re.M)
    assert runs, 'docs/reliability.md quotes no long run'
    total = 0
    for n, first, shown_n, lo, hi, violations in runs:
        assert n == shown_n and first == lo and int(hi) == int(lo) + int(n) - 1, (n, first, shown_n, lo, hi)
        assert violations == '0'
        total += int(n)
    assert total >= 1_000_000, f'the quoted long run has {total} schedules'
    long_row = next(line for line in doc.splitlines() if line.startswith('| Simulation, the long run'))
    assert sorted(re.findall(r'dynatroni_lease_sim (\d+ \d+)', long_row)) == sorted(f'{n} {f}' for n, f, *_ in runs)
    usage = (REPO / 'dcs' / 'lease_sim_main.cc').read_text()
    assert 'dynatroni_lease_sim [SCHEDULES] [FIRST_SEED]' in usage


# ------------------------------------------------------------------ operations.md: the plugin's log


def _what_the_log_says() -> Dict[str, str]:
    """docs/operations.md's "What the log says" table: failure (first cell) -> the quoted line (second cell)."""
    text = (DOCS / "operations.md").read_text()
    section = text.split("## What the log says", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and len(cells) >= 3 and cells[1].startswith("`"):
            rows[cells[0]] = cells[1].strip("`")
    return rows


def test_operations_md_names_the_plugins_logger():
    """The logger the docs tell operators to configure is the one the plugin logs on, a child of Patroni's
    `patroni` logger (so Patroni's `log.loggers` settings cover it)."""
    from dynatroni import dynamodb, failure_log
    text = (DOCS / "operations.md").read_text()
    named = set(re.findall(r"\(logger `([\w.]+)`", text))
    assert named == {failure_log.LOGGER_NAME}, named
    assert dynamodb.logger.name == failure_log.LOGGER_NAME == "patroni.dcs.dynamodb"
    assert failure_log.LOGGER_NAME.startswith("patroni.")


def test_patronis_log_loggers_setting_sets_the_plugins_level():
    """What operations.md says of `log.loggers`, with Patroni's own PatroniLogger.update_loggers."""
    import logging
    import types
    from patroni.log import PatroniLogger
    from dynatroni import failure_log
    fake = types.SimpleNamespace(_root_logger=logging.getLogger())
    ours = logging.getLogger(failure_log.LOGGER_NAME)
    text = (DOCS / "operations.md").read_text()
    assert "`patroni.dcs.dynamodb:\nWARNING` keeps its warnings and errors only" in text and "`patroni.dcs: DEBUG` covers it" in text
    manager = logging.getLogger().manager
    saved = {name: lg.level for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    try:
        PatroniLogger.update_loggers(fake, {"patroni.dcs.dynamodb": "WARNING"})
        assert ours.getEffectiveLevel() == logging.WARNING
        PatroniLogger.update_loggers(fake, {"patroni.dcs": "DEBUG"})
        assert ours.getEffectiveLevel() == logging.DEBUG
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def test_operations_md_log_table_has_a_row_of_the_tested_shape_per_failure():
    """One row per failure python/tests/test_plugin_failure_log.py produces, each quoting a line of the shape that
    test asserts (python/tests/failure_lines.py), plus the background credential refresh and the summary."""
    import failure_lines
    rows = _what_the_log_says()
    expected = {f.name for f in failure_lines.FAILURES} | {"credential refresh", "repeated failures"}
    assert set(rows) == expected, set(rows) ^ expected
    for f in failure_lines.FAILURES:
        assert f.match(rows[f.name]), (f.name, rows[f.name], f.pattern().pattern)
    assert failure_lines.CREDENTIAL_REFRESH.search(rows["credential refresh"]), rows["credential refresh"]
    assert failure_lines.SUMMARY.search(rows["repeated failures"]), rows["repeated failures"]


def member_clock_allowance_s() -> int:
    """kMemberClockAllowance (dcs/member_expiry.h), in seconds: what a new process adds to 2 x ttl before it drops a
    member by its updated_at."""
    m = re.search(r"kMemberClockAllowance\s*=\s*std::chrono::seconds\((\d+)\)",
                  (REPO / "dcs/member_expiry.h").read_text())
    assert m, "dcs/member_expiry.h: kMemberClockAllowance = std::chrono::seconds(N) not found"
    return int(m.group(1))


def test_fresh_reader_bound_and_allowance_in_the_docs_are_the_codes():
    """design.md and configuration.md state how old a member item must be for a new process (patronictl list) to drop
    it — 2 x ttl (Timing::MemberExpiry) + the allowance — and how much clock skew that tolerates: the code's numbers."""
    a = member_clock_allowance_s()
    assert "return 2 * ttl;" in (REPO / "dcs/timing.cc").read_text(), "MemberExpiry() is no longer 2 ttl"
    config = (DOCS / "configuration.md").read_text()
    row = re.search(r"^\| a new process \(`patronictl list`\) drops a member written longer ago than \| "
                    r"`2 × ttl \+ (\d+) s` \|([^\n]*)\|$", config, re.M)
    assert row, "configuration.md: the dial table has no row for a new process's member expiry"
    header = re.search(r"^\| Patroni setting \| value \|([^\n]*)\|$", config, re.M)
    dials = [int(x) for x in re.findall(r"F = (\d+)", header.group(1))]
    assert int(row.group(1)) == a
    assert [int(x) for x in row.group(2).split("|")] == [2 * f + a for f in dials]
    assert f"2 × ttl + {a} s" in config and f"node clocks up to {a} s apart" in config
    design = (DOCS / "design.md").read_text()
    assert f"A = {a} s" in design and f"lags the reader's (corrected)\nclock by at most `A` = {a} s" in design
    for f in re.findall(r"(\d+) s at F=(\d+)", design.split("### A new process's view of the members")[1]
                        .split("\n## ")[0]):
        assert int(f[0]) == 2 * int(f[1]) + a, f"design.md: {f[0]} s at F={f[1]} is not 2F + {a}"
