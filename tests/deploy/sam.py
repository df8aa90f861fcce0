"""template.yaml offline: the SAM transform without network, and the expansion made deployable
to moto's CloudFormation (what is dropped, and why, is a named constant).

- expand(parameters): samtranslator's transform() with a static managed-policy map (the template
  names no managed policy, so the map is empty and nothing is fetched) and the function's CodeUri
  rewritten to an S3 location, as `sam package` does.
- for_moto(expanded): the expansion without MOTO_UNSUPPORTED's resource types and the outputs
  that refer to them.
Nothing here contacts anything.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
CODE_BUCKET = "obsync-deploy-artifacts"
CODE_KEY = "function.zip"

# Resource types of the expansion that moto 5.2's CloudFormation cannot create, and why. Only
# these are removed before the deploy to moto; every other resource must reach CREATE_COMPLETE.
MOTO_UNSUPPORTED = {
    "AWS::ApiGateway::RestApi": "moto's CloudFormation fails on SAM's RestApi (KeyError 'Name': "
                                "SAM gives the API a Body, no Name)",
    "AWS::ApiGateway::Deployment": "depends on the RestApi",
    "AWS::ApiGateway::Stage": "depends on the RestApi",
    "AWS::ApiGateway::ApiKey": "bound to the stage through the usage plan",
    "AWS::ApiGateway::UsagePlan": "names the RestApi's stage",
    "AWS::ApiGateway::UsagePlanKey": "depends on the usage plan",
    # moto 5.2 logs "No Moto CloudFormation support for ..." for these and marks the stack
    # complete without them: dropped here so that nothing pretends to have been created.
    "AWS::CloudWatch::Alarm": "not supported by moto's CloudFormation (skipped silently)",
    "AWS::S3::BucketPolicy": "not supported by moto's CloudFormation (skipped silently)",
    "AWS::SecretsManager::Secret": "not supported by moto's CloudFormation (skipped silently); "
                                   "the deploy test creates the same secret by name",
    "AWS::Lambda::EventInvokeConfig": "not supported by moto's CloudFormation (skipped silently)",
}


class _NoManagedPolicies:
    """The static managed-policy map samtranslator wants: the template names none."""

    def load(self):
        return {}


def load_template() -> dict:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(TEMPLATE.read_text(encoding="utf-8"))


def expand(parameters: dict[str, str] | None = None, template: dict | None = None) -> dict:
    """The CloudFormation template SAM makes of template.yaml with these parameter values."""
    from samtranslator.translator.transform import transform

    # Its feature-toggle and metrics notes are noise here.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    sam = copy.deepcopy(template if template is not None else load_template())
    for resource in sam["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    return transform(sam, dict(parameters or {}), _NoManagedPolicies())


def _refers_to(value, names: set[str]) -> bool:
    text = json.dumps(value)
    return any(f'"{name}"' in text or f"${{{name}}}" in text or f"${{{name}." in text
               for name in names)


def _parameter_values(template: dict, parameters: dict[str, str]) -> dict:
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        value = parameters.get(name, spec.get("Default", ""))
        if spec.get("Type") == "CommaDelimitedList":
            value = [v for v in str(value).split(",")] if value != "" else [""]
        values[name] = value
    return values


def _condition(expr, conditions: dict, values: dict, cache: dict) -> bool:
    if isinstance(expr, dict) and len(expr) == 1:
        (key, arg), = expr.items()
        if key == "Condition":
            if arg not in cache:
                cache[arg] = _condition(conditions[arg], conditions, values, cache)
            return cache[arg]
        if key == "Fn::Not":
            return not _condition(arg[0], conditions, values, cache)
        if key == "Fn::And":
            return all(_condition(a, conditions, values, cache) for a in arg)
        if key == "Fn::Or":
            return any(_condition(a, conditions, values, cache) for a in arg)
        if key == "Fn::Equals":
            left, right = (_value(a, values) for a in arg)
            return str(left) == str(right)
    raise ValueError(f"a condition this evaluator does not know: {expr!r}")


def _value(expr, values: dict):
    if isinstance(expr, dict) and len(expr) == 1:
        (key, arg), = expr.items()
        if key == "Ref":
            return values[arg]
        if key == "Fn::Join":
            return arg[0].join(str(v) for v in _value(arg[1], values))
    return expr


def resolve_conditions(template: dict, parameters: dict[str, str]) -> dict:
    """What CloudFormation does with the Conditions for these parameter values, done ahead:
    resources and outputs under a false condition are removed, every Fn::If is replaced by its
    chosen branch (AWS::NoValue removes the member). moto's CloudFormation evaluates conditions
    too, but keeps a null for an Fn::If that chose AWS::NoValue inside a list, and its IAM role
    then fails on it."""
    out = copy.deepcopy(template)
    values = _parameter_values(out, parameters)
    conditions = out.get("Conditions", {})
    cache: dict = {}
    truth = {name: _condition({"Condition": name}, conditions, values, cache)
             for name in conditions}
    no_value = object()

    def walk(node):
        if isinstance(node, dict):
            if len(node) == 1 and "Fn::If" in node:
                name, yes, no = node["Fn::If"]
                return walk(yes if truth[name] else no)
            if node == {"Ref": "AWS::NoValue"}:
                return no_value
            result = {}
            for key, value in node.items():
                value = walk(value)
                if value is not no_value:
                    result[key] = value
            return result
        if isinstance(node, list):
            return [v for v in (walk(item) for item in node) if v is not no_value]
        return node

    for section in ("Resources", "Outputs"):
        for name in [n for n, r in out.get(section, {}).items()
                     if "Condition" in r and not truth[r["Condition"]]]:
            del out[section][name]
        out[section] = walk(out.get(section, {}))
    return out


def substitute(template: dict, expr, parameters: dict[str, str], stack_name: str) -> str:
    """A plain Fn::Sub string of the template with these parameter values (pseudo parameters:
    AWS::StackName, AWS::Region, AWS::Partition, AWS::URLSuffix)."""
    import re

    values = {k: v for k, v in _parameter_values(template, parameters).items()
              if isinstance(v, str)}
    values.update({"AWS::StackName": stack_name, "AWS::Region": REGION,
                   "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"})
    text = expr["Fn::Sub"] if isinstance(expr, dict) else expr
    if not isinstance(text, str):
        raise ValueError("only the one-argument Fn::Sub is handled")
    return re.sub(r"\$\{([A-Za-z0-9:]+)\}", lambda m: values[m.group(1)], text)


def for_moto(expanded: dict, stand_ins: dict[str, str] | None = None
             ) -> tuple[dict, dict[str, str], list[str]]:
    """(template, {dropped resource: why}, dropped outputs). A resource of a MOTO_UNSUPPORTED
    type is dropped, and so is one that refers to a dropped resource (the API's invoke
    permission names the RestApi); so are the outputs that refer to them. `stand_ins` maps a
    dropped resource to the value its Ref has once the test made it itself (the secret): those
    Refs are replaced instead of their referrers dropped."""
    out = copy.deepcopy(expanded)
    stand_ins = dict(stand_ins or {})

    def replace(node):
        if isinstance(node, dict):
            if len(node) == 1 and node.get("Ref") in stand_ins:
                return stand_ins[node["Ref"]]
            return {k: replace(v) for k, v in node.items()}
        if isinstance(node, list):
            return [replace(v) for v in node]
        return node

    for section in ("Resources", "Outputs"):
        out[section] = {name: (value if name in stand_ins else replace(value))
                        for name, value in out.get(section, {}).items()}
    dropped = {name: MOTO_UNSUPPORTED[resource["Type"]]
               for name, resource in out["Resources"].items()
               if resource["Type"] in MOTO_UNSUPPORTED}
    while True:
        more = {name: f"refers to {', '.join(sorted(d for d in dropped if _refers_to(r, {d})))}"
                for name, r in out["Resources"].items()
                if name not in dropped and _refers_to(r.get("Properties", {}), set(dropped))}
        if not more:
            break
        dropped.update(more)
    for name in dropped:
        del out["Resources"][name]
    gone = set(dropped)
    dropped_outputs = sorted(name for name, output in out.get("Outputs", {}).items()
                             if _refers_to(output, gone))
    for name in dropped_outputs:
        del out["Outputs"][name]
    for resource in out["Resources"].values():
        depends = resource.get("DependsOn")
        if isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d not in gone]
        elif isinstance(depends, str) and depends in gone:
            del resource["DependsOn"]
    return out, dropped, dropped_outputs
