DROP TABLE fleet_secrets_key;
