#!/usr/bin/env python3
"""scripts/cost_model.py: its formulas on cases worked by hand, and docs/cost.md and docs/scale.md
agree with it."""

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
        # 1 + (5 backup + 2 verify names) function-wide + the same per vault, + MessagesQueued
        # (the work queue's, every dispatch).
        s = cost_model.Scenario("t", vaults=10, files_per_vault=1, avg_file_kb=1,
                                runs_per_day=1, changed_share=0)
        self.assertAlmostEqual(cost_model.estimate(s).lines["cloudwatch metrics"], 79 * 0.30)
        s.vault_metrics = False
        self.assertAlmostEqual(cost_model.estimate(s).lines["cloudwatch metrics"], 9 * 0.30)

    def test_alarms_are_the_templates(self):
        template = (ROOT / "template.yaml").read_text()
        count = len(re.findall(r"^    Type: AWS::CloudWatch::Alarm$", template, flags=re.M))
        self.assertEqual(cost_model.ALARMS, count, "template.yaml's alarms changed: update ALARMS")
        # Billed per metric evaluated: a metric-math alarm counts each MetricStat it reads.
        math_alarms = len(re.findall(r"^      Metrics:$", template, flags=re.M))
        metric_stats = len(re.findall(r"^\s+MetricStat:$", template, flags=re.M))
        self.assertGreater(math_alarms, 0)
        self.assertEqual(cost_model.ALARM_METRICS, count - math_alarms + metric_stats)
        s = cost_model.Scenario("t", vaults=1, files_per_vault=1, avg_file_kb=1,
                                runs_per_day=1, changed_share=0)
        self.assertAlmostEqual(cost_model.estimate(s).lines["cloudwatch alarms"],
                               cost_model.ALARM_METRICS * 0.10)

    def test_the_daily_verify_heads_every_object_and_reads_one_percent(self):
        # Ten 10,000-file vaults: 100,000 HEADs + 1,000 GETs a day at $0.0004/1000, ten
        # listings of 10 pages at $0.005/1000; the Lambda seconds and the state reads on top.
        s = cost_model.Scenario("t", vaults=10, files_per_vault=10_000, avg_file_kb=10,
                                runs_per_day=24, changed_share=0.001)
        s3 = 30.4 * (101_000 * 0.0004 / 1000 + 100 * 0.005 / 1000)
        verify = cost_model.estimate(s).lines["verify (daily, 1 % read)"]
        self.assertGreater(verify, s3)
        self.assertLess(verify, s3 * 1.5)
        s.first_sync = True
        self.assertEqual(cost_model.estimate(s).lines["verify (daily, 1 % read)"], 0)

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

    # ---- scale out (docs/scale.md)

    def test_custom_metrics_are_billed_in_tiers(self):
        self.assertAlmostEqual(cost_model.custom_metrics_cost(7), 7 * 0.30)
        self.assertAlmostEqual(cost_model.custom_metrics_cost(10_000), 3_000)
        self.assertAlmostEqual(cost_model.custom_metrics_cost(50_007), 3_000 + 40_007 * 0.10)

    def test_a_scaled_round_is_its_invocations_spread_over_the_concurrency(self):
        z = cost_model.ScaleScenario("t", vaults=1_000, files_per_vault=100, avg_file_kb=5,
                                     runs_per_day=4, changed_share=0.0, accounts=100,
                                     max_concurrency=4, account_concurrency=0)
        e = cost_model.scale_estimate(z)
        share = 512 / 1769
        # No file to fetch: 17 AWS calls + the secret, 4 Obsidian calls with their handshakes,
        # scrypt and the run's CPU at a 512 MB share.
        vault = 18 * 0.015 + 4 * 2 * 0.080 + (0.168 + 0.036) / share
        self.assertAlmostEqual(e.vault_s, vault)
        account = 0.015 + 2 * 2 * 0.080 + 1 * 0.015  # secret, sign-in + list, one SendMessageBatch
        self.assertAlmostEqual(e.account_s, account)
        self.assertAlmostEqual(e.work_s, 1_000 * vault + 100 * account)
        dispatch = 0.015 + 0.015 + 1 * 0.015 + 10 * 0.015  # INIT, secret, ListSecrets, 10 batches
        self.assertAlmostEqual(e.dispatch_s, dispatch)
        # Under 5 the mapping starts at full concurrency: no ramp; the tail is one vault.
        self.assertAlmostEqual(cost_model.round_seconds(e, 4), dispatch + e.work_s / 4 + vault)
        # Twice the concurrency, about half the round.
        self.assertLess(cost_model.round_seconds(e, 8), cost_model.round_seconds(e, 4) / 2 + vault)
        # The least concurrency within the window: the round at it fits, one less does not.
        z.window_h = 0.05
        e = cost_model.scale_estimate(z)
        c = e.needed_concurrency
        self.assertLessEqual(cost_model.round_seconds(e, c), 0.05 * 3600)
        self.assertGreater(cost_model.round_seconds(e, c - 1), 0.05 * 3600)
        # A secret per account is $0.40 a month; every invocation reads one.
        runs = 4 * 30.4
        self.assertAlmostEqual(e.lines["secrets manager"],
                               100 * 0.40 + runs * (1 + 100 + 1_000) * 0.05 / 10_000)
        self.assertAlmostEqual(e.lines["lambda requests"], runs * (1 + 100 + 1_000) * 0.20 / 1e6)

    def test_a_first_sync_over_the_timeout_continues(self):
        z = cost_model.ScaleScenario("t", vaults=10, files_per_vault=20_000, avg_file_kb=1024,
                                     runs_per_day=4, changed_share=0.0, accounts=1)
        e = cost_model.scale_estimate(z, first_sync=True)
        self.assertGreater(e.vault_s, 870)
        self.assertEqual(e.invocations_per_vault, 2)
        self.assertEqual(e.lines["s3 storage"], 0)  # storage is the schedule's monthly line

    def test_docs_scale_md_shows_what_the_script_computes(self):
        doc = (ROOT / "docs" / "scale.md").read_text()
        lines = [l for l in run("--scale").splitlines() if l.startswith("| ") and "---" not in l]
        self.assertGreater(len(lines), 40)
        for line in lines:
            self.assertIn(line, doc, "docs/scale.md is stale: rerun scripts/cost_model.py --scale")


if __name__ == "__main__":
    unittest.main()
