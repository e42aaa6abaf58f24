DROP INDEX sign_in_limits_tat;
DROP TABLE sign_in_limits;
