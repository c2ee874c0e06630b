"""factory_boy factories. Tenant-owned rows are created with the guard disabled explicitly: tests set
up data for two organizations at once, which no request ever does."""

import factory
from django_scopes import scopes_disabled

from accounts.models import ApiClient, Membership, Organization, User
from accounts.roles import Role

DEFAULT_PASSWORD = "correct horse battery staple 42"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):
        if create:
            self.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.CLINICIAN

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)


def make_member(organization, role=Role.CLINICIAN, **user_kwargs) -> User:
    user = UserFactory(**user_kwargs)
    MembershipFactory(organization=organization, user=user, role=role)
    return user


def make_api_client(organization, access=ApiClient.Access.CLINICIAN, name="Partner EHR") -> tuple[ApiClient, str]:
    key, prefix, digest = ApiClient.new_key()
    with scopes_disabled():
        client = ApiClient.objects.create(
            organization=organization, name=name, access=access, key_prefix=prefix, key_digest=digest
        )
    return client, key
