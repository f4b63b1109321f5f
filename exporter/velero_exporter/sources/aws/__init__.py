"""The AWS sources: bucket sizes and DR bucket freshness, repository sizes, and EBS snapshot freshness."""
