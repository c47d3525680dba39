from django.urls import path

from idp.federation import views

app_name = "federation"
urlpatterns = [
    path("<slug:idp_slug>/start", views.start_view, name="start"),
    path("<slug:idp_slug>/callback", views.callback_view, name="callback"),
    path("<slug:idp_slug>/saml/metadata", views.saml_metadata_view, name="saml_metadata"),
    path("<slug:idp_slug>/saml/start", views.saml_start_view, name="saml_start"),
    path("<slug:idp_slug>/saml/acs", views.saml_acs_view, name="saml_acs"),
    path("<slug:idp_slug>/saml/sls", views.saml_sls_view, name="saml_sls"),
    path("<slug:idp_slug>/backchannel-logout", views.backchannel_logout_view, name="backchannel_logout"),
    path("<slug:idp_slug>/logout/return", views.logout_return_view, name="logout_return"),
]
