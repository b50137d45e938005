# Alice asks first and fills the cache; bob asks the same question with his own token.
alice, bob = (lab.provider.mint(["api:read"], subject=name) for name in ("alice", "bob"))
vulnerable.execute("whoami", token=alice)
print("shared_cache on,  bob reads:", vulnerable.execute("whoami", token=bob).json()["result"])
vulnerable.disable("shared_cache")
print("shared_cache off, bob reads:", vulnerable.execute("whoami", token=bob).json()["result"])
challenge.check()
