DROP INDEX users_active_admins;
