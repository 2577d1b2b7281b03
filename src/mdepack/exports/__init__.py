"""Generators that describe the pack to other engines, one module per target format, all from
the manifest and the schemas: self-contained JSON Schemas (MCP tools), OpenAPI 3.1 and the
Swagger 2.0 connector, and Step Functions state machines."""
