# 32 random bytes from the operating system's CSPRNG, written as text (43 characters): the key's strength is the
# generator's, and the check can only refuse what it can prove weak
import secrets

config = {"oauth2": {"jwt_secret": secrets.token_urlsafe(32), "jwt_algorithm": "HS256",
                     "jwt_issuer": "https://issuer.lab", "jwt_audience": "api://agent"}}
challenge.check(config=config)
