from django.urls import path

from idp.passkeys import views

app_name = "passkeys"
urlpatterns = [
    path("sign-in/", views.sign_in_view, name="sign_in"),
    path("verify/", views.factor_view, name="factor"),
    path("authenticate/options/", views.authenticate_options_view, name="authenticate_options"),
    path("authenticate/", views.authenticate_view, name="authenticate"),
    path("register/options/", views.register_options_view, name="register_options"),
    path("register/", views.register_view, name="register"),
]
