from django.urls import path

from idp.saml import views

app_name = "saml"
urlpatterns = [
    path("metadata", views.metadata_view, name="metadata"),
    path("sso/redirect", views.sso_redirect_view, name="sso_redirect"),
    path("sso/post", views.sso_post_view, name="sso_post"),
    path("sso/continue", views.sso_continue_view, name="sso_continue"),
    path("sso/init", views.idp_initiated_view, name="sso_init"),
    path("slo/redirect", views.slo_redirect_view, name="slo_redirect"),
    path("slo/post", views.slo_post_view, name="slo_post"),
    path("slo/continue", views.slo_continue_view, name="slo_continue"),
]
