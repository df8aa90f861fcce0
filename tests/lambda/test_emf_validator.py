"""The EMF validator accepts what the specification allows and names what it breaks."""

import copy
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import emf  # noqa: E402

GOOD = {
    "_aws": {
        "Timestamp": 1796590498123,
        "CloudWatchMetrics": [
            {
                "Namespace": "Obsync/Lambda",
                "Dimensions": [["VaultID", "FunctionName"]],
                "Metrics": [
                    {"Name": "SyncDuration", "Unit": "Seconds"},
                    {"Name": "FilesProcessed", "Unit": "Count"},
                    {"Name": "SyncSuccess", "Unit": "Count"},
                    {"Name": "BytesDownloaded", "Unit": "Bytes"},
                    {"Name": "FilesFailed", "Unit": "Count", "StorageResolution": 60},
                ],
            }
        ],
    },
    "VaultID": "0123abcd",
    "FunctionName": "obsync",
    "SyncDuration": 1.25,
    "FilesProcessed": 12,
    "SyncSuccess": 1,
    "BytesDownloaded": 70000,
    "FilesFailed": 0,
    "request_id": "anything else is allowed at the root",
}


def mutated(change):
    doc = copy.deepcopy(GOOD)
    change(doc)
    return json.dumps(doc)


def directive(doc):
    return doc["_aws"]["CloudWatchMetrics"][0]


class GoodLines(unittest.TestCase):
    def test_the_contract_shape_is_valid(self):
        self.assertEqual(emf.validate(json.dumps(GOOD)), [])
        self.assertTrue(emf.is_emf(json.dumps(GOOD)))

    def test_cold_start_record(self):
        line = json.dumps(
            {
                "_aws": {
                    "Timestamp": 1796590498123,
                    "CloudWatchMetrics": [
                        {"Namespace": "Obsync/Lambda", "Dimensions": [["FunctionName"]],
                         "Metrics": [{"Name": "ColdStart", "Unit": "Count"}]}
                    ],
                },
                "FunctionName": "obsync",
                "ColdStart": 1,
            }
        )
        self.assertEqual(emf.validate(line), [])

    def test_optional_parts(self):
        def change(doc):
            directive(doc)["Dimensions"] = [[]]  # a DimensionSet MAY be empty
            directive(doc)["Metrics"][0] = {"Name": "SyncDuration"}  # Unit is optional
            directive(doc)["Metrics"][1]["StorageResolution"] = 1
            doc["FilesFailed"] = [0, 1, 2.5]  # an array of values
        self.assertEqual(emf.validate(mutated(change)), [])

    def test_limits_exactly(self):
        def change(doc):
            names = [f"D{i}" for i in range(30)]
            for name in names:
                doc[name] = "v"
            directive(doc)["Dimensions"] = [names]
            directive(doc)["Metrics"] = [{"Name": f"M{i}", "Unit": "None"} for i in range(100)]
            for i in range(100):
                doc[f"M{i}"] = list(range(100)) if i == 0 else i
            directive(doc)["Namespace"] = "N" * 255
        self.assertEqual(emf.validate(mutated(change)), [])

    def test_plain_log_lines_are_not_emf(self):
        self.assertFalse(emf.is_emf('{"level":"INFO","message":"hi"}'))
        self.assertFalse(emf.is_emf("not json"))
        self.assertEqual(len(emf.emf_documents([json.dumps(GOOD), "x", "{}"])), 1)


class BadLines(unittest.TestCase):
    def assertBreaks(self, line, fragment):
        errors = emf.validate(line)
        self.assertTrue(errors, f"accepted: {line[:200]}")
        self.assertTrue(any(fragment in e for e in errors), f"{fragment!r} not in {errors}")

    def test_not_a_json_object(self):
        self.assertBreaks("not json", "not one JSON object")
        self.assertBreaks(json.dumps(GOOD) + " trailing", "not one JSON object")
        self.assertBreaks("[1, 2]", "root is not a JSON object")
        self.assertBreaks("{}", "_aws is missing")
        self.assertBreaks('{"_aws": []}', "_aws is missing or not an object")

    def test_timestamp(self):
        self.assertBreaks(mutated(lambda d: d["_aws"].pop("Timestamp")), "Timestamp is missing")
        self.assertBreaks(mutated(lambda d: d["_aws"].update(Timestamp="1796590498123")), "not an integer")
        self.assertBreaks(mutated(lambda d: d["_aws"].update(Timestamp=1796590498.5)), "not an integer")
        self.assertBreaks(mutated(lambda d: d["_aws"].update(Timestamp=True)), "not an integer")
        self.assertBreaks(mutated(lambda d: d["_aws"].update(Timestamp=1796590498)), "seconds")
        self.assertBreaks(mutated(lambda d: d["_aws"].update(Timestamp=-1)), "negative")

    def test_directives(self):
        self.assertBreaks(mutated(lambda d: d["_aws"].pop("CloudWatchMetrics")), "CloudWatchMetrics is missing")
        self.assertBreaks(mutated(lambda d: d["_aws"].update(CloudWatchMetrics={})), "not an array")
        self.assertBreaks(mutated(lambda d: d["_aws"].update(CloudWatchMetrics=[])), "is empty")
        self.assertBreaks(mutated(lambda d: d["_aws"].update(CloudWatchMetrics=["x"])), "is not an object")
        self.assertBreaks(mutated(lambda d: directive(d).update(Extra=1)), "does not define")

    def test_namespace(self):
        self.assertBreaks(mutated(lambda d: directive(d).pop("Namespace")), "Namespace is missing")
        self.assertBreaks(mutated(lambda d: directive(d).update(Namespace="")), "1..255")
        self.assertBreaks(mutated(lambda d: directive(d).update(Namespace="   ")), "non-whitespace")
        self.assertBreaks(mutated(lambda d: directive(d).update(Namespace="N" * 256)), "1..255")
        self.assertBreaks(mutated(lambda d: directive(d).update(Namespace=7)), "not a string")
        self.assertBreaks(mutated(lambda d: directive(d).update(Namespace=":Obsync")), "starts with ':'")

    def test_dimensions(self):
        self.assertBreaks(mutated(lambda d: directive(d).pop("Dimensions")), "Dimensions is missing")
        self.assertBreaks(mutated(lambda d: directive(d).update(Dimensions=["VaultID"])), "not an array of dimension names")
        self.assertBreaks(mutated(lambda d: directive(d).update(Dimensions=[[1]])), "not a string")
        self.assertBreaks(mutated(lambda d: d.pop("VaultID")), "'VaultID' is not a member of the root")
        self.assertBreaks(mutated(lambda d: d.update(VaultID=42)), "not a string")
        self.assertBreaks(mutated(lambda d: d.update(VaultID="")), "1..1024")
        self.assertBreaks(mutated(lambda d: d.update(VaultID="v" * 1025)), "1..1024")

        def too_many(doc):
            names = [f"D{i}" for i in range(31)]
            for name in names:
                doc[name] = "v"
            directive(doc)["Dimensions"] = [names]
        self.assertBreaks(mutated(too_many), "over 30")

    def test_metrics(self):
        self.assertBreaks(mutated(lambda d: directive(d).pop("Metrics")), "Metrics is missing")
        self.assertBreaks(mutated(lambda d: directive(d)["Metrics"].append({"Unit": "Count"})), "Name is missing")
        self.assertBreaks(mutated(lambda d: d.pop("FilesFailed")), "'FilesFailed' is not a member of the root")
        self.assertBreaks(mutated(lambda d: d.update(FilesFailed="0")), "not a number")
        self.assertBreaks(mutated(lambda d: d.update(FilesFailed=True)), "not a number")
        self.assertBreaks(mutated(lambda d: d.update(FilesFailed=None)), "not a number")
        self.assertBreaks(mutated(lambda d: d.update(FilesFailed=[1, "2"])), "not a number")
        self.assertBreaks(mutated(lambda d: d.update(FilesFailed=list(range(101)))), "over 100")
        self.assertBreaks(json.dumps(GOOD).replace('"FilesFailed": 0', '"FilesFailed": NaN'), "not one JSON object")
        self.assertBreaks(mutated(lambda d: directive(d)["Metrics"][0].update(Unit="Secs")), "not a CloudWatch unit")
        self.assertBreaks(mutated(lambda d: directive(d)["Metrics"][0].update(Unit="seconds")), "not a CloudWatch unit")
        self.assertBreaks(mutated(lambda d: directive(d)["Metrics"][0].update(StorageResolution=5)), "not 1 or 60")
        self.assertBreaks(mutated(lambda d: directive(d)["Metrics"][0].update(Value=1)), "does not define")
        self.assertBreaks(mutated(lambda d: directive(d).update(Metrics="SyncDuration")), "not an array")

        def too_many(doc):
            directive(doc)["Metrics"] = [{"Name": f"M{i}"} for i in range(101)]
            for i in range(101):
                doc[f"M{i}"] = i
        self.assertBreaks(mutated(too_many), "over 100")

    def test_size(self):
        self.assertBreaks(mutated(lambda d: d.update(padding="x" * (1024 * 1024))), "1 MB")


if __name__ == "__main__":
    unittest.main()
