#!/usr/bin/env python3
"""scripts/cost_model.py: its formulas on cases worked by hand, and docs/cost.md agrees with it."""

import contextlib
import io
import pathlib
import re
import sys
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import cost_model  # noqa: E402


def run(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cost_model.main(list(args))
    return out.getvalue()


class CostModelTest(unittest.TestCase):
    def test_the_plans_lambda_line(self):
        # 1M x 5 s x 1 GB on x86_64 + 1M requests.
        self.assertAlmostEqual(cost_model.plan_lambda_cost(), 5e6 * 0.0000166667 + 0.20, places=6)

    def test_custom_metrics_are_names_times_dimension_sets(self):
        # 1 + 5 function-wide + 5 per vault, + MessagesQueued (the work queue's, every dispatch).
        s = cost_model.Scenario("t", vaults=10, files_per_vault=1, avg_file_kb=1,
                                runs_per_day=1, changed_share=0)
        self.assertAlmostEqual(cost_model.estimate(s).lines["cloudwatch metrics"], 57 * 0.30)
        s.vault_metrics = False
        self.assertAlmostEqual(cost_model.estimate(s).lines["cloudwatch metrics"], 7 * 0.30)

    def test_alarms_are_the_templates(self):
        template = (ROOT / "template.yaml").read_text()
        count = len(re.findall(r"^    Type: AWS::CloudWatch::Alarm$", template, flags=re.M))
        self.assertEqual(cost_model.ALARMS, count, "template.yaml's alarms changed: update ALARMS")
        s = cost_model.Scenario("t", vaults=1, files_per_vault=1, avg_file_kb=1,
                                runs_per_day=1, changed_share=0)
        self.assertAlmostEqual(cost_model.estimate(s).lines["cloudwatch alarms"], count * 0.10)

    def test_sqs_requests_are_the_vaults_and_the_mappings_polling(self):
        # One vault 4 times a day: 3 requests per vault run, plus 5 pollers each receiving once
        # per 20 s wait all month, at $0.40 per million.
        s = cost_model.Scenario("t", vaults=1, files_per_vault=1000, avg_file_kb=5,
                                runs_per_day=4, changed_share=0.01)
        runs = 4 * 30.4
        requests = runs * 3 + 5 * 30.4 * 86400 / 20
        self.assertAlmostEqual(cost_model.estimate(s).lines["sqs requests"], requests * 0.40 / 1e6)
        # Inside the free tier's million.
        self.assertEqual(cost_model.estimate(s, free_tier=True).lines["sqs requests"], 0)
        # A one-off first sync: its message, and one more per continuation; no month of polling.
        s = cost_model.Scenario("t", vaults=1, files_per_vault=20_000, avg_file_kb=1024,
                                runs_per_day=0, changed_share=1, first_sync=True)
        self.assertAlmostEqual(cost_model.estimate(s).lines["sqs requests"], 2 * 3 * 0.40 / 1e6)

    def test_compute_scales_with_runs_and_arch(self):
        s = cost_model.Scenario("t", vaults=1, files_per_vault=1000, avg_file_kb=5,
                                runs_per_day=4, changed_share=0.01)
        base = cost_model.estimate(s)
        s.runs_per_day = 8
        self.assertAlmostEqual(cost_model.estimate(s).lines["lambda compute"],
                               2 * base.lines["lambda compute"])
        s.runs_per_day, s.arch = 4, "x86_64"
        self.assertAlmostEqual(cost_model.estimate(s).lines["lambda compute"] /
                               base.lines["lambda compute"], 0.0000166667 / 0.0000133334)

    def test_a_first_sync_longer_than_the_timeout_needs_more_invocations(self):
        s = cost_model.Scenario("t", vaults=1, files_per_vault=20_000, avg_file_kb=1024,
                                runs_per_day=0, changed_share=1, first_sync=True)
        e = cost_model.estimate(s)
        self.assertGreater(e.seconds_per_run, 870)
        self.assertAlmostEqual(e.lines["lambda requests"], 2 * 0.20 / 1e6)

    def test_docs_cost_md_shows_what_the_script_computes(self):
        doc = (ROOT / "docs" / "cost.md").read_text()
        for line in run().splitlines():
            if line.startswith("| ") and "---" not in line:
                self.assertIn(line, doc, "docs/cost.md is stale: rerun scripts/cost_model.py")
        for args, label in ((["--no-vault-metrics"], "total, VaultMetrics=false |"),
                            (["--no-vault-metrics", "--free-tier"],
                             "total, VaultMetrics=false, free tier |")):
            total = next(l for l in run(*args).splitlines() if "total per month" in l)
            cells = total.split("|", 2)[2]
            self.assertIn(label + cells, doc.replace("**" + label.replace(" |", "** |"), label))


if __name__ == "__main__":
    unittest.main()
