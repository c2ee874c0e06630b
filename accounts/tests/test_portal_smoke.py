import pytest


@pytest.mark.django_db
def test_dashboard_renders_for_each_role(tenant_a):
    for role in tenant_a.users:
        response = tenant_a.client_for(role).get("/")
        assert response.status_code == 200, role
        assert tenant_a.organization.name in response.content.decode()
