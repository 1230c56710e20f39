output "table_name" {
  description = "dynamodb.table_name for patroni.yml"
  value       = aws_dynamodb_table.patroni.name
}

output "table_arn" {
  value = aws_dynamodb_table.patroni.arn
}

output "node_policy_arn" {
  description = "The node policy (null when cluster_partitions is empty)."
  value       = length(aws_iam_policy.nodes) > 0 ? aws_iam_policy.nodes[0].arn : null
}
