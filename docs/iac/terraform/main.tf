# Dynatroni: the DynamoDB table Patroni's DynamoDB DCS uses, and optionally a least-privilege policy for the
# Patroni nodes of given clusters (docs/iam.md). Checked by python/tests/test_docs.py.

terraform {
  required_version = ">= 1.3"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

resource "aws_dynamodb_table" "patroni" {
  name         = var.table_name
  billing_mode = "PAY_PER_REQUEST"

  # The key schema the plugin and `dynatroni table check` require; it cannot be changed later.
  hash_key  = "cluster_name"
  range_key = "key"

  attribute {
    name = "cluster_name"
    type = "S"
  }

  attribute {
    name = "key"
    type = "S"
  }

  # Garbage collection of tombstones and stale members only; the lease never depends on it.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = var.deletion_protection
  tags                        = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

# Attach to the instance role of the Patroni nodes of these clusters. Exactly the actions the plugin calls.
data "aws_iam_policy_document" "nodes" {
  statement {
    sid    = "PatroniClusterPartitions"
    effect = "Allow"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "dynamodb:BatchWriteItem",
    ]
    resources = [aws_dynamodb_table.patroni.arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = concat(var.cluster_partitions, ["dynatroni-doctor-probe"])
    }
  }

  # The plugin's startup check of the table's key schema (read-only; cannot be confined to a partition).
  statement {
    sid       = "PatroniStartupTableCheck"
    effect    = "Allow"
    actions   = ["dynamodb:DescribeTable"]
    resources = [aws_dynamodb_table.patroni.arn]
  }
}

resource "aws_iam_policy" "nodes" {
  count       = length(var.cluster_partitions) > 0 ? 1 : 0
  name_prefix = "dynatroni-nodes-"
  description = "Patroni nodes using Dynatroni, confined to their clusters' partitions."
  policy      = data.aws_iam_policy_document.nodes.json
  tags        = var.tags
}
