"""Backups of The Things Stack's state in the storage account, and the restore drill."""
