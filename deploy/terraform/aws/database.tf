# RDS for PostgreSQL 15, Multi-AZ, encrypted, 30 days of automated backups. The master
# password is generated and kept by RDS itself in Secrets Manager (never in Terraform's
# state); the pods read it through the Secrets Store CSI driver.
resource "aws_db_subnet_group" "modax" {
  name       = local.name
  subnet_ids = module.vpc.private_subnets
}

resource "aws_security_group" "db" {
  name        = "${local.name}-db"
  description = "PostgreSQL from the EKS nodes only"
  vpc_id      = module.vpc.vpc_id

  ingress {
    description     = "PostgreSQL from the EKS nodes"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [module.eks.node_security_group_id]
  }
}

resource "aws_db_instance" "modax" {
  identifier                   = local.name
  engine                       = "postgres"
  engine_version               = "15"
  instance_class               = "db.m6g.large"
  allocated_storage            = 100
  max_allocated_storage        = 1000
  storage_type                 = "gp3"
  storage_encrypted            = true
  multi_az                     = true
  db_name                      = "modax"
  username                     = "modax"
  manage_master_user_password  = true
  db_subnet_group_name         = aws_db_subnet_group.modax.name
  vpc_security_group_ids       = [aws_security_group.db.id]
  backup_retention_period      = 30
  deletion_protection          = true
  copy_tags_to_snapshot        = true
  final_snapshot_identifier    = "${local.name}-final"
  performance_insights_enabled = true
}
