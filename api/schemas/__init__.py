"""Request/response models, Base/Create/Public per entity (full-stack-fastapi-template style)."""
