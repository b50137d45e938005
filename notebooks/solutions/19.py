# The name, the web page and the logo are the client's own claims; the redirect host is where the code goes. So the
# name is reserved for the real app's host, and that host (exactly) is the only https host a client may register.
from labkit.provider import TrustPolicy

policy = TrustPolicy(
    redirect_hosts=("copilot.github.com",),
    reserved_names={"GitHub Copilot": ("copilot.github.com",)},
)
lab.provider.configure_trust(policy)
challenge.check()
