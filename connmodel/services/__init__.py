"""Services: typed, keyword-only functions taking a session and the acting user.

They are the only code that changes the store. Each checks the actor's permission itself
(`connmodel.permissions.require`) and writes its audit event in the same transaction.
"""
