"""Kubeconfig texts in the shapes kind and az write, for the unit tests."""

# The shape `kind get kubeconfig` prints (kind v0.30.0, API server published on 0.0.0.0).
KIND_KUBECONFIG = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    server: https://0.0.0.0:6443
  name: kind-tts-e2e
contexts:
- context:
    cluster: kind-tts-e2e
    user: kind-tts-e2e
  name: kind-tts-e2e
current-context: kind-tts-e2e
kind: Config
preferences: {}
users:
- name: kind-tts-e2e
  user:
    client-certificate-data: Y2VydAo=
    client-key-data: a2V5Cg==
"""

# The shape `az aks get-credentials --format exec` writes for an Entra ID cluster.
AKS_KUBECONFIG = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Y2EK
    server: https://tts-aks-dns-abc.hcp.westeurope.azmk8s.io:443
  name: tts-aks
- cluster:
    server: https://other:443
  name: other
contexts:
- context:
    cluster: tts-aks
    user: clusterUser_tts-rg_tts-aks
  name: tts-aks
- context:
    cluster: other
    user: other-admin
  name: other
current-context: other
kind: Config
preferences: {}
users:
- name: clusterUser_tts-rg_tts-aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args: [get-token, --environment, AzurePublicCloud, --server-id,
             6dae42f8-4368-4678-94ff-3960e28e3630, --login, devicecode]
      command: kubelogin
      env: null
      provideClusterInfo: false
- name: other-admin
  user:
    client-certificate-data: Y2VydAo=
"""
